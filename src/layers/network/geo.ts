// Country of a client address, from the offline GeoLite2 country database that `geoip-country`
// ships. Loaded on first use (about 8 MB), so a gateway whose policies never ask pays nothing.
import { createRequire } from "node:module";

interface CountryLookup {
  lookup(address: string): { country: string } | null;
}

let database: CountryLookup | undefined;

/** ISO 3166-1 alpha-2 code of the address's country, or undefined (private, loopback, unknown). */
export function countryOf(address: string | undefined): string | undefined {
  if (address === undefined || address === "") return undefined;
  database ??= createRequire(import.meta.url)("geoip-country") as CountryLookup;
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
  try {
    return database.lookup(mapped?.[1] ?? address)?.country || undefined;
  } catch {
    return undefined; // not an address the database can read
  }
}
