// What the engine reports while it works (notes, warnings, layer progress): typed events a front door renders — the CLI as text and bars, the API as JSON.
//
// A domain function that reports takes an optional Reporter (in its options, or as a parameter) and
// never prints. The store's notes that belong to no request (where containers went, a storage.conf it
// cannot read, a driver's one-time note) go to the reporter the store was opened with (storePaths).
// Types only: importing this module costs a command nothing at start (no code is bundled for it).

/** What a layer is doing: pulled (waiting/downloading/exists/done), pushed (pushing/exists/mounted/pushed), stored (stored). */
export type LayerPhase = 'waiting' | 'downloading' | 'exists' | 'done' | 'pushing' | 'mounted' | 'pushed' | 'stored';

export type EngineEvent =
  /** Something the user should know; the work goes on as asked (e.g. ownership not kept in a layer). */
  | { kind: 'note'; message: string }
  /** Something that may not be what the user wanted (e.g. a single-id mapping, a port not forwarded). */
  | { kind: 'warning'; message: string }
  /**
   * A layer or blob of an image moving: ID is its digest (the compressed blob's for pull and push, the
   * diff_id for a layer stored from a file); CURRENT and TOTAL are bytes (TOTAL 0: unknown).
   */
  | { kind: 'layer'; op: 'pull' | 'push' | 'load' | 'import'; id: string; phase: LayerPhase; current: number; total: number };

/** Receives the engine's events, in order, synchronously: it must not throw, and should not block. */
export type Reporter = (e: EngineEvent) => void;
