// The work one message may cost the data guard, across every string of it and every pass over them:
// characters each pass reads, JSON values walked, link targets judged. Past the budget the scan stops
// and the message is refused (rule data:too-much-work), so a huge, link-dense or many-valued message
// costs bounded CPU whatever its shape.

/**
 * What judging one link target costs, in characters read: parsing the URL, decoding it and scanning
 * it for data costs about what the secret scan spends on a kilobyte of text (measured 9 to 18 µs).
 */
export const LINK_TARGET_WORK = 1024;

/** Without `limits.maxWork`, a message may cost this many times `limits.maxChars`. */
export const WORK_PER_CHAR = 8;

/** A fresh budget for one message under `dataGuard.limits`. */
export function messageWork(limits: { readonly maxChars: number; readonly maxWork?: number }): ScanWork {
  return new ScanWork(limits.maxWork ?? WORK_PER_CHAR * limits.maxChars);
}

/** Thrown when a message costs more to scan than its budget allows (the message is refused). */
export class ScanWorkExceeded extends Error {
  constructor(what: string) {
    super(what);
    this.name = "ScanWorkExceeded";
  }
}

/** The work budget of one message, shared by every walk and pass over it. */
export class ScanWork {
  readonly max: number;
  used = 0;

  constructor(max: number) {
    this.max = max;
  }

  /** Charges `units` (characters read, values walked); throws once the message is over its budget. */
  spend(units: number): void {
    this.used += units;
    if (this.used > this.max)
      throw new ScanWorkExceeded(`scanning the message cost more than ${this.max} units`);
  }
}
