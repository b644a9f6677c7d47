// The typed input, events and result of a build: what the CLI and the API's /build endpoint pass in and render.
import type { Readable } from 'node:stream';

export type PullPolicy = 'always' | 'missing' | 'never';

export interface BuildInput {
  /** A directory, or a tar of the context (`lodger build -`, the API's request body). */
  context: { dir: string } | { tar: Readable };
  /** The Dockerfile: a host path (CLI -f), or a path inside a tar context; default Dockerfile, else Containerfile. */
  dockerfile?: string;
  /** The Dockerfile's text when it comes from elsewhere (`-f -`). */
  dockerfileText?: string;
  tags: string[];
  /** --build-arg K=V; a value of undefined means "declared but unset". */
  buildArgs: Record<string, string | undefined>;
  target?: string;
  noCache: boolean;
  /** --layers=false (podman, buildah): each stage's new layers are merged into one, on top of its base. */
  squashStages?: boolean;
  pull: PullPolicy;
  labels: Record<string, string>;
  secrets: Array<{ id: string; src: string }>;
  network: 'default' | 'none' | 'host';
  platform?: string;
  /** --timestamp / SOURCE_DATE_EPOCH: seconds; every created time and file time in new layers becomes it. */
  timestamp?: number;
  /** Cancels the build: running steps are killed and nothing is tagged. */
  signal?: AbortSignal;
}

export type BuildEvent =
  | { type: 'step'; stage: number; step: number; total: number; text: string; cached: boolean }
  | { type: 'output'; stage: number; step: number; stream: 'stdout' | 'stderr'; data: Buffer }
  | { type: 'warning'; message: string }
  | { type: 'pull'; ref: string }
  | { type: 'stage-done'; stage: number; name?: string }
  | { type: 'done'; imageId: string; names: string[] };

export interface BuildResult {
  imageId: string;
  names: string[];
  /** How many steps were taken from the cache, and how many ran. */
  cached: number;
  ran: number;
}
