// The state a build and each of its stages carry while they run (shared by the executor and the step helpers).
import type { ImageConfig } from '../oci/config';
import type { StorePaths } from '../storage/paths';
import type { BuiltLayer } from './cache';
import type { Context } from './context';
import type { Instruction, ParsedDockerfile } from './dockerfile';
import type { BuildRuntimeConfig } from './metadata';
import type { StageNode } from './stages';
import type { BuildEvent, BuildInput } from './types';

export interface StageState {
  node: StageNode;
  config: ImageConfig & { config: BuildRuntimeConfig };
  layers: BuiltLayer[];
  key: string;
  /** ARGs declared in this stage, with their values (unset ones absent). */
  args: Map<string, string>;
  cmdSet: boolean;
  image: string;
  imageId: string;
  /** The time of the last step that made a layer (or the base's): metadata steps and the image take it. */
  created: string;
}

export interface Build {
  p: StorePaths;
  input: BuildInput;
  emit: (e: BuildEvent) => void;
  df: ParsedDockerfile;
  file: string;
  ctx: Context;
  globals: Map<string, string>;
  nodes: StageNode[];
  results: Map<number, Promise<StageState>>;
  stepNo: Map<Instruction, number>;
  total: number;
  usedArgs: Set<string>;
  stats: { cached: number; ran: number };
  tmpFiles: Set<string>;
  /** Work left running (build containers' removal), waited for before the build returns. */
  deferred: Array<Promise<unknown>>;
}

