// A session's resource subscriptions. A 2025 client's resources/subscribe is a set operation; each
// 2026 listen stream holds its own claim. A URI stays subscribed while any claim on it is held, so
// one stream closing never ends another's subscription.
export type SubscriptionSource = "explicit" | "stream";

interface Claims {
  explicit: boolean;
  streams: number;
}

export class ResourceSubscriptions {
  private readonly claims = new Map<string, Claims>();

  has(uri: string): boolean {
    return this.claims.has(uri);
  }

  uris(): string[] {
    return [...this.claims.keys()];
  }

  /** Adds a claim; true when the URI was not subscribed before (the upstream must be told). */
  add(uri: string, source: SubscriptionSource): boolean {
    const claims = this.claims.get(uri);
    if (!claims) {
      this.claims.set(uri, { explicit: source === "explicit", streams: source === "stream" ? 1 : 0 });
      return true;
    }
    if (source === "explicit") claims.explicit = true;
    else claims.streams++;
    return false;
  }

  /** Drops a claim; true when that was the last one (the upstream must be told). */
  remove(uri: string, source: SubscriptionSource): boolean {
    const claims = this.claims.get(uri);
    if (!claims) return false;
    if (source === "explicit") claims.explicit = false;
    else claims.streams = Math.max(0, claims.streams - 1);
    if (claims.explicit || claims.streams > 0) return false;
    this.claims.delete(uri);
    return true;
  }

  clear(): void {
    this.claims.clear();
  }
}
