// What execve(2) accepts: the command and environment of a container's process checked against the kernel's ARG_MAX and MAX_ARG_STRLEN before the helper starts.
import * as fs from 'node:fs';
import { LodgerError } from '../errors';

/** The kernel's _STK_LIM (8 MiB): the argument area is at most three quarters of it (fs/exec.c). */
const STK_LIM = 8 * 1024 * 1024;
const AT_PAGESZ = 6;

/** The page size from our auxiliary vector (getauxval(3) AT_PAGESZ); 4096 when it cannot be read. */
function pageSize(): number {
  try {
    const auxv = fs.readFileSync('/proc/self/auxv');
    for (let off = 0; off + 16 <= auxv.length; off += 16) {
      if (auxv.readBigUInt64LE(off) === BigInt(AT_PAGESZ)) return Number(auxv.readBigUInt64LE(off + 8));
    }
  } catch { /* no /proc: assume the common page */ }
  return 4096;
}

/** RLIMIT_STACK's soft limit (as /proc/self/limits shows it), which the helper and the container inherit; undefined when unlimited. */
function stackLimit(): number | undefined {
  try {
    const line = fs.readFileSync('/proc/self/limits', 'utf8').split('\n').find((l) => l.startsWith('Max stack size'));
    const soft = line?.slice('Max stack size'.length).trim().split(/\s+/)[0];
    if (soft && /^\d+$/.test(soft)) return Number(soft);
  } catch { /* fall through */ }
  return undefined;
}

export interface ExecLimits {
  /** Bytes for the strings and pointers of argv and envp together (what sysconf(_SC_ARG_MAX) reports). */
  argMax: number;
  /** Bytes of one argument or variable, with its NUL (MAX_ARG_STRLEN, 32 pages). */
  maxArgStrlen: number;
}

/**
 * The limits execve(2) applies in a process with our RLIMIT_STACK (fs/exec.c, bprm_stack_limits): a
 * quarter of the stack limit, at most three quarters of _STK_LIM, at least 32 pages.
 */
let cached: ExecLimits | undefined;
export function execLimits(): ExecLimits {
  return (cached ??= computeLimits());
}

function computeLimits(): ExecLimits {
  const page = pageSize();
  const stack = stackLimit();
  const quarter = stack === undefined ? Infinity : Math.floor(stack / 4);
  return { argMax: Math.max(Math.min(quarter, (STK_LIM / 4) * 3), 32 * page), maxArgStrlen: 32 * page };
}

const bytes = (list: string[]) => list.reduce((n, s) => n + Buffer.byteLength(s) + 1, 0);

/** Room the kernel needs besides argv and envp: the executable's path, copied in as well (at most PATH_MAX). */
const EXEC_PATH_ROOM = 4096;

/**
 * Refuses a command or environment the kernel would refuse with E2BIG, naming which of them is too long
 * and by how much, before anything is created. Each string counts with its NUL and each a pointer (8 bytes).
 */
export function checkExecSize(argv: string[], env: string[], limits: ExecLimits = execLimits()): void {
  argv.forEach((a, i) => {
    const n = Buffer.byteLength(a) + 1;
    if (n > limits.maxArgStrlen) {
      throw new LodgerError('ARG_TOO_LONG', `argument ${i} of the command is ${n} bytes, more than the ${limits.maxArgStrlen} the kernel takes in one argument (MAX_ARG_STRLEN): shorten it, or pass the data in a file or on stdin`);
    }
  });
  for (const v of env) {
    const n = Buffer.byteLength(v) + 1;
    if (n > limits.maxArgStrlen) {
      const name = v.split('=')[0];
      throw new LodgerError('ENV_TOO_LONG', `the environment variable ${name} is ${n} bytes, more than the ${limits.maxArgStrlen} the kernel takes in one variable (MAX_ARG_STRLEN): shorten its value (-e, --env-file or the image's Env), or pass the data in a file`);
    }
  }
  const a = bytes(argv) + 8 * Math.max(argv.length, 1);
  const e = bytes(env) + 8 * env.length;
  const room = limits.argMax - EXEC_PATH_ROOM;
  if (a + e <= room) return;
  if (a >= e) {
    throw new LodgerError('ARG_MAX', `the command and its arguments (${argv.length} strings, ${a} bytes, with ${e} bytes of environment) exceed the kernel's limit ARG_MAX (${limits.argMax} bytes, a quarter of the stack limit, ulimit -s): shorten the command, or pass the arguments in a file or on stdin`);
  }
  throw new LodgerError('ENV_MAX', `the environment (${env.length} variables from -e, --env-file and the image's Env, ${e} bytes, with ${a} bytes of command) exceeds the kernel's limit ARG_MAX (${limits.argMax} bytes, a quarter of the stack limit, ulimit -s): pass fewer or shorter variables, or the data in a file`);
}
