/**
 * A small Jupyter client of our own, in Node: it runs a notebook on the project's tslab kernel with no Python
 * and no Jupyter installed. What it implements:
 *
 * - starting the kernel: a connection file (tcp on 127.0.0.1, five free ports, a random HMAC-SHA256 key) in a
 *   private temporary directory, then the argv of `kernelSpec(root)` (kernel.ts) with `{connection_file}`
 *   replaced, in the project root, with the caller's environment; the kernel's own stdout/stderr are kept
 *   (their ends) for failure reports;
 * - the messaging protocol v5.3 (wire format in jupyter-messages.ts) over ZeroMQ: shell and control as DEALER
 *   sockets, iopub as a SUB socket subscribed to everything; messages are signed, and incoming ones whose
 *   signature does not verify are dropped (and counted). It waits for a kernel_info_reply, then until iopub
 *   delivers (a SUB socket misses what is published before it is connected), before the first cell;
 * - `executeNotebookNode`: the code cells of an nbformat 4 notebook in order (execute_request, store_history),
 *   iopub messages collected by their parent msg_id into nbformat outputs (consecutive stream messages of one
 *   stream merged, with `\r` and backspace applied as Jupyter's coalescing does; display_data, execute_result,
 *   error; update_display_data and clear_output honoured), execution counts 1, 2, 3, ... in cell order,
 *   a stop at the first cell whose reply is not 'ok' or that runs past its time limit (then SIGINT, tslab's
 *   interrupt, and SIGKILL if no reply follows), the executed notebook written atomically in the layout
 *   execute.py writes (nbformat's: sorted keys, indent 1, text split into lines; JSON MIME parts on one line),
 *   and the kernel shut down (shutdown_request on control, then SIGTERM, then SIGKILL) on every path.
 *   A kernel still running when this process exits is killed.
 *
 * tslab's ways (../shared/ECOSYSTEM.md): a failing cell's reply carries no message, its diagnostic (a type
 * error, a stack) arrives on the cell's stderr stream, which the report returns; a cell's last value arrives as
 * stdout. After an error tslab drops requests for ~200 ms, which does not matter here: the run stops there.
 *
 * Left out: the stdin channel (input_request; requests say allow_stdin false), the heartbeat channel, comms
 * and widgets (tslab has none), kernel restarts, interrupt_request messages (tslab is interrupted by signal),
 * signature schemes other than hmac-sha256, nbformat schema validation, and Python's float spelling for
 * numbers read from the input file's own metadata (`1.0` there is written back as `1`).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import net, { type AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { Dealer, Subscriber } from 'zeromq';
import { writeFileAtomic } from '../io/atomic.js';
import { decode, dictField, encode, newMessage, stringField, type Json, type JsonObject, type JupyterMessage } from './jupyter-messages.js';
import { KERNEL_NAME, kernelSpec } from './kernel.js';

/**
 * What a notebook run reports: the same fields as NotebookRun in execute.ts (declared here, not imported, so
 * that execute.ts can import this module without an import cycle; test/jupyter-client.test.ts checks the two
 * stay the same type).
 */
export interface NotebookRun {
  notebook: string;
  ok: boolean;
  cells: number;
  /** [cell index, seconds] per executed code cell. */
  seconds: Array<[number, number]>;
  failedCell?: number;
  source?: string;
  stderr?: string;
  stdout?: string;
  error?: string;
}

export interface NodeExecuteOptions {
  /** Where the executed notebook goes; default: overwrite the notebook itself. */
  output?: string;
  /** Per-cell time limit in seconds (default 900). */
  timeoutS?: number;
  /** Variables for the kernel, over this process's environment (e.g. TOEPLITZ_NOTEBOOK_FAST: '1'). */
  env?: NodeJS.ProcessEnv;
  /** Project root: the kernel's working directory (default: the working directory). */
  root?: string;
  /** How long the kernel may take to answer kernel_info (default 120 s). */
  startTimeoutS?: number;
  /** Called with the kernel's pid as soon as it is spawned. */
  onKernelSpawn?: (pid: number) => void;
}

/** How a kernel process ended. */
export interface KernelExit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

/** How one execute_request ended. */
export type CellOutcome =
  | { kind: 'reply'; reply: JupyterMessage }
  /** Past the time limit: interrupted (SIGINT, and the kernel answered), died of the interrupt, or killed. */
  | { kind: 'timeout'; after: 'interrupted' | 'died' | 'killed'; exit?: KernelExit }
  | { kind: 'died'; exit: KernelExit };

/** The kernel did not come up; `stderr` is what it wrote. */
export class KernelStartError extends Error {
  override name = 'KernelStartError';
  constructor(message: string, readonly stderr: string) {
    super(message);
  }
}

const DEFAULT_TIMEOUT_S = 900;
const DEFAULT_START_TIMEOUT_S = 120;
/** After an execute_reply, how long to wait for the kernel's `idle` (the end of the cell's outputs). */
const IOPUB_GRACE_MS = 3000;
/** After SIGINT, how long the kernel has to answer before it is killed. */
const INTERRUPT_GRACE_MS = 5000;
/** After shutdown_request (and again after SIGTERM), how long the kernel has to exit. */
const SHUTDOWN_GRACE_MS = 3000;
/** How much of the kernel's own stdout/stderr is kept, and how much of it a report shows. */
const TAIL_CHARS = 64 * 1024;
const REPORT_TAIL_CHARS = 4000;
const STDOUT_REPORT_CHARS = 2000;

// ---------------------------------------------------------------------------------------------------------
// Small helpers: timers, output tails, free ports, exit-time cleanup

const TIMEOUT: unique symbol = Symbol('timeout');
const EXITED: unique symbol = Symbol('exited');

/** `promise`, or TIMEOUT after `ms` (the timer is cleared either way). */
async function within<T>(promise: Promise<T>, ms: number): Promise<T | typeof TIMEOUT> {
  let handle: NodeJS.Timeout | undefined;
  const elapsed = new Promise<typeof TIMEOUT>((resolve) => {
    handle = setTimeout(() => resolve(TIMEOUT), ms);
  });
  try {
    return await Promise.race([promise, elapsed]);
  } finally {
    clearTimeout(handle);
  }
}

const delay = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** The last `max` characters written to a stream. */
class Tail {
  private text = '';
  constructor(private readonly max: number) {}
  push(chunk: Buffer | string): void {
    this.text = (this.text + chunk.toString()).slice(-this.max);
  }
  toString(): string {
    return this.text;
  }
}

/** A TCP server on 127.0.0.1 at a port the system picks. */
function listenAnywhere(): Promise<net.Server> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve(server));
  });
}

/** `count` distinct ports free on 127.0.0.1 just now (held open together, then released). */
async function freePorts(count: number): Promise<number[]> {
  const servers = await Promise.all(Array.from({ length: count }, listenAnywhere));
  const ports = servers.map((s) => (s.address() as AddressInfo).port);
  await Promise.all(servers.map((s) => new Promise<void>((resolve) => s.close(() => resolve()))));
  return ports;
}

/** Kernels still running; killed if this process exits before it shut them down. */
const running = new Set<ChildProcess>();
let exitHookInstalled = false;

function trackUntilExit(child: ChildProcess): void {
  running.add(child);
  child.once('exit', () => running.delete(child));
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.once('exit', () => {
    for (const c of running) c.kill('SIGKILL');
  });
}

// ---------------------------------------------------------------------------------------------------------
// The kernel: process, connection file, sockets

/** The connection file's fields (jupyter_client's names). */
interface ConnectionInfo {
  ip: string;
  transport: 'tcp';
  shell_port: number;
  iopub_port: number;
  stdin_port: number;
  control_port: number;
  hb_port: number;
  key: string;
  signature_scheme: 'hmac-sha256';
  kernel_name: string;
}

async function connectionInfo(): Promise<ConnectionInfo> {
  const [shell, iopub, stdin, control, hb] = await freePorts(5);
  return {
    ip: '127.0.0.1', transport: 'tcp', shell_port: shell, iopub_port: iopub, stdin_port: stdin, control_port: control, hb_port: hb,
    key: randomBytes(32).toString('hex'), signature_scheme: 'hmac-sha256', kernel_name: KERNEL_NAME,
  };
}

interface StartOptions {
  root: string;
  env: NodeJS.ProcessEnv;
  startTimeoutMs: number;
  onSpawn?: (pid: number) => void;
}

/** One running tslab kernel and our sockets to it. */
export class KernelClient {
  /** Incoming messages dropped because their signature did not verify (or they were malformed). */
  rejectedMessages = 0;
  readonly exited: Promise<KernelExit>;
  private exit: KernelExit | undefined;
  /** Settles when the kernel's stdout and stderr are closed too (after `exited`): its last words are in. */
  private readonly stdioClosed: Promise<void>;
  private readonly session = randomUUID();
  private readonly shell = new Dealer({ linger: 0, sendTimeout: 5000 });
  private readonly control = new Dealer({ linger: 0, sendTimeout: 5000 });
  private readonly iopub = new Subscriber({ linger: 0 });
  private readonly replies = new Map<string, (message: JupyterMessage) => void>();
  private readonly iopubListeners = new Map<string, (message: JupyterMessage) => void>();
  private iopubDelivers = false;
  private readonly stderr = new Tail(TAIL_CHARS);
  private readonly stdout = new Tail(TAIL_CHARS);
  private closed = false;

  private constructor(private readonly child: ChildProcess, private readonly info: ConnectionInfo, private readonly dir: string) {
    this.exited = new Promise((resolve) => {
      const done = (exit: KernelExit): void => {
        this.exit ??= exit;
        resolve(this.exit);
      };
      child.once('exit', (code, signal) => done({ code, signal }));
      child.once('error', (err) => {
        this.stderr.push(`${err.message}\n`);
        done({ code: null, signal: null });
      });
    });
    this.stdioClosed = new Promise((resolve) => child.once('close', () => resolve()));
    child.stderr?.on('data', (chunk: Buffer) => this.stderr.push(chunk));
    child.stdout?.on('data', (chunk: Buffer) => this.stdout.push(chunk));
  }

  /** Starts a kernel and waits until it answers on shell and publishes on iopub. */
  static async start(options: StartOptions): Promise<KernelClient> {
    const { argv } = kernelSpec(options.root); // throws, before anything is written, when tslab is missing
    const info = await connectionInfo();
    const dir = mkdtempSync(path.join(os.tmpdir(), 'toeplitz-lab-kernel-'));
    const file = path.join(dir, 'kernel.json');
    writeFileSync(file, JSON.stringify(info), { mode: 0o600 });
    const [command, ...args] = argv.map((arg) => arg.replaceAll('{connection_file}', file));
    const child = spawn(command, args, { cwd: options.root, env: options.env, stdio: ['ignore', 'pipe', 'pipe'] });
    trackUntilExit(child);
    const kernel = new KernelClient(child, info, dir);
    if (child.pid !== undefined) options.onSpawn?.(child.pid);
    try {
      kernel.connect();
      await kernel.handshake(options.startTimeoutMs);
      return kernel;
    } catch (err) {
      await kernel.shutdown();
      throw new KernelStartError(`the kernel did not start: ${(err as Error).message}`, kernel.stderrTail());
    }
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  get alive(): boolean {
    return this.exit === undefined && this.child.pid !== undefined;
  }

  /** The end of what the kernel process wrote to stderr (and stdout, after it), for reports. */
  stderrTail(max = REPORT_TAIL_CHARS): string {
    const out = this.stdout.toString().trim();
    const text = [this.stderr.toString().trim(), out ? `--- kernel stdout ---\n${out}` : ''].filter(Boolean).join('\n');
    return text.slice(-max);
  }

  private address(port: number): string {
    return `${this.info.transport}://${this.info.ip}:${port}`;
  }

  private connect(): void {
    this.shell.connect(this.address(this.info.shell_port));
    this.control.connect(this.address(this.info.control_port));
    this.iopub.connect(this.address(this.info.iopub_port));
    this.iopub.subscribe();
    void this.pump(this.shell, (m) => this.onReply(m));
    void this.pump(this.control, (m) => this.onReply(m));
    void this.pump(this.iopub, (m) => this.onIopub(m));
  }

  /** Reads `socket` until it is closed, handing each verified message on. */
  private async pump(socket: Dealer | Subscriber, handle: (message: JupyterMessage) => void): Promise<void> {
    try {
      for await (const frames of socket) {
        let message: JupyterMessage;
        try {
          message = decode(frames, this.info.key);
        } catch {
          this.rejectedMessages++;
          continue;
        }
        handle(message);
      }
    } catch {
      // the socket was closed under the loop
    }
  }

  private onReply(message: JupyterMessage): void {
    const id = message.parent_header.msg_id;
    const waiter = id === undefined ? undefined : this.replies.get(id);
    if (id === undefined || waiter === undefined) return;
    this.replies.delete(id);
    waiter(message);
  }

  private onIopub(message: JupyterMessage): void {
    this.iopubDelivers = true;
    const id = message.parent_header.msg_id;
    if (id !== undefined) this.iopubListeners.get(id)?.(message);
  }

  /** Sends `message` on shell or control. */
  private async send(channel: 'shell' | 'control', message: JupyterMessage): Promise<void> {
    await (channel === 'shell' ? this.shell : this.control).send(encode(message, this.info.key));
  }

  /** Sends a request; resolves with its reply (never, if the kernel dies: race it with `exited`); rejects if unsendable. */
  async request(channel: 'shell' | 'control', message: JupyterMessage): Promise<JupyterMessage> {
    const reply = new Promise<JupyterMessage>((resolve) => this.replies.set(message.header.msg_id, resolve));
    await this.send(channel, message);
    return reply;
  }

  /** `promise`, or an error if the kernel exits first or the deadline passes. */
  private async before<T>(promise: Promise<T>, deadline: number, what: string, limitMs: number): Promise<T> {
    const result = await within(Promise.race([promise, this.exited.then((): typeof EXITED => EXITED)]), Math.max(0, deadline - Date.now()));
    if (result === EXITED) throw new Error(`it exited (${describeExit(this.exit)}) before ${what}`);
    if (result === TIMEOUT) throw new Error(`no ${what} within ${limitMs / 1000} s`);
    return result;
  }

  /** kernel_info_request until answered, then probes until iopub delivers to our late-joining SUB socket. */
  private async handshake(timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    await this.before(this.request('shell', newMessage('kernel_info_request', this.session, {})), deadline, 'kernel_info_reply', timeoutMs);
    while (!this.iopubDelivers) {
      await this.before(this.send('shell', newMessage('kernel_info_request', this.session, {})), deadline, 'iopub messages', timeoutMs);
      await this.before(delay(100), deadline, 'iopub messages', timeoutMs);
    }
  }

  /**
   * Runs `code` as one cell; `onOutput` receives every iopub message the cell causes, also late ones after the
   * reply. On a timeout the kernel is interrupted (SIGINT) and, if it does not answer, killed.
   */
  async execute(code: string, timeoutMs: number, onOutput: (message: JupyterMessage) => void): Promise<CellOutcome> {
    const content: JsonObject = { code, silent: false, store_history: true, user_expressions: {}, allow_stdin: false, stop_on_error: true };
    const message = newMessage('execute_request', this.session, content);
    const idle = new Promise<void>((resolve) => {
      this.iopubListeners.set(message.header.msg_id, (m) => {
        if (m.header.msg_type === 'status' && stringField(m.content, 'execution_state') === 'idle') resolve();
        else onOutput(m);
      });
    });
    const reply = this.request('shell', message).then((r): CellOutcome => ({ kind: 'reply', reply: r }));
    const died = this.exited.then((exit): CellOutcome => ({ kind: 'died', exit }));
    const first = await within(Promise.race([reply, died]), timeoutMs);
    if (first !== TIMEOUT) {
      if (first.kind === 'reply') await within(Promise.race([idle, this.exited]), IOPUB_GRACE_MS);
      return first;
    }
    this.signal('SIGINT');
    const second = await within(Promise.race([reply, died]), INTERRUPT_GRACE_MS);
    if (second === TIMEOUT) {
      this.signal('SIGKILL');
      return { kind: 'timeout', after: 'killed' };
    }
    if (second.kind === 'died') return { kind: 'timeout', after: 'died', exit: second.exit };
    await within(Promise.race([idle, this.exited]), IOPUB_GRACE_MS);
    return { kind: 'timeout', after: 'interrupted' };
  }

  private signal(signal: NodeJS.Signals): void {
    if (this.alive) this.child.kill(signal);
  }

  /** Whether the kernel has exited within `ms`. */
  private async exitsWithin(ms: number): Promise<boolean> {
    return (await within(this.exited, ms)) !== TIMEOUT;
  }

  /** Stops the kernel (shutdown_request, then SIGTERM, then SIGKILL), closes the sockets, removes the files. */
  async shutdown(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.alive) {
      await within(this.send('control', newMessage('shutdown_request', this.session, { restart: false })).catch(() => undefined), 1000);
      if (!(await this.exitsWithin(SHUTDOWN_GRACE_MS))) {
        this.signal('SIGTERM');
        if (!(await this.exitsWithin(SHUTDOWN_GRACE_MS))) {
          this.signal('SIGKILL');
          await this.exitsWithin(SHUTDOWN_GRACE_MS);
        }
      }
    }
    await within(this.stdioClosed, 500);
    for (const socket of [this.shell, this.control, this.iopub]) socket.close();
    this.replies.clear();
    this.iopubListeners.clear();
    rmSync(this.dir, { recursive: true, force: true });
  }
}

function describeExit(exit: KernelExit | undefined): string {
  if (exit === undefined) return 'still running';
  return exit.signal ? `signal ${exit.signal}` : `exit code ${exit.code}`;
}

// ---------------------------------------------------------------------------------------------------------
// A cell's outputs, built from its iopub messages as nbformat stores them

/** Outputs under a display id (any cell), for update_display_data. */
type DisplayRegistry = Map<string, JsonObject[]>;

/** `\r` (back to the start of the line) and backspace applied, as Jupyter's stream coalescing does. */
export function applyControlCharacters(text: string): string {
  let out = text.replace(/[^\n]*\r(?=[^\n])/g, '');
  for (let before = ''; before !== out; ) {
    before = out;
    out = out.replace(/[^\n]\x08/g, '');
  }
  return out;
}

function isObject(value: unknown): value is JsonObject {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

/** One code cell's outputs, in the nbformat 4 shapes. */
export class CellOutputs {
  readonly list: JsonObject[] = [];
  private clearBeforeNext = false;

  constructor(private readonly displays: DisplayRegistry = new Map()) {}

  /** Takes one iopub message of the cell (others than outputs, like status, are ignored). */
  add(message: JupyterMessage): void {
    const c = message.content;
    const data = (): JsonObject => dictField(c, 'data') ?? {};
    const metadata = (): JsonObject => dictField(c, 'metadata') ?? {};
    switch (message.header.msg_type) {
      case 'stream':
        return this.stream(stringField(c, 'name') ?? 'stdout', stringField(c, 'text') ?? '');
      case 'display_data':
        return this.display(c, { output_type: 'display_data', data: data(), metadata: metadata() });
      case 'execute_result':
        return this.display(c, { output_type: 'execute_result', data: data(), metadata: metadata(), execution_count: c.execution_count ?? null });
      case 'error':
        return this.push({ output_type: 'error', ename: stringField(c, 'ename') ?? '', evalue: stringField(c, 'evalue') ?? '', traceback: Array.isArray(c.traceback) ? c.traceback : [] });
      case 'update_display_data':
        return this.update(c);
      case 'clear_output':
        return this.clear(c.wait === true);
      default:
    }
  }

  /** The cell's text on one stream. */
  text(name: 'stdout' | 'stderr'): string {
    return this.list.filter((o) => o.output_type === 'stream' && o.name === name).map((o) => String(o.text)).join('');
  }

  /** `ename: evalue` of the cell's error outputs. */
  errorText(): string {
    return this.list.filter((o) => o.output_type === 'error').map((o) => `${String(o.ename)}: ${String(o.evalue)}`).join('\n');
  }

  private push(output: JsonObject): void {
    if (this.clearBeforeNext) {
      this.list.length = 0;
      this.clearBeforeNext = false;
    }
    this.list.push(output);
  }

  private stream(name: string, text: string): void {
    const last = this.clearBeforeNext ? undefined : this.list.at(-1);
    if (last?.output_type === 'stream' && last.name === name) last.text = applyControlCharacters(String(last.text) + text);
    else this.push({ output_type: 'stream', name, text: applyControlCharacters(text) });
  }

  private display(content: JsonObject, output: JsonObject): void {
    const id = stringField(dictField(content, 'transient') ?? {}, 'display_id');
    if (id !== undefined) this.displays.set(id, [...(this.displays.get(id) ?? []), output]);
    this.push(output);
  }

  private update(content: JsonObject): void {
    const id = stringField(dictField(content, 'transient') ?? {}, 'display_id');
    for (const output of (id === undefined ? undefined : this.displays.get(id)) ?? []) {
      output.data = dictField(content, 'data') ?? {};
      output.metadata = dictField(content, 'metadata') ?? {};
    }
  }

  private clear(wait: boolean): void {
    if (wait) this.clearBeforeNext = true;
    else this.list.length = 0;
  }
}

// ---------------------------------------------------------------------------------------------------------
// Notebook files: reading nbformat 4, writing it as execute.py does (nbformat's layout, compact JSON MIME parts)

interface Notebook extends JsonObject {
  cells: JsonObject[];
}

function readNotebook(file: string): Notebook {
  const value: unknown = JSON.parse(readFileSync(file, 'utf8'));
  if (!isObject(value) || value.nbformat !== 4 || !Array.isArray(value.cells) || !value.cells.every(isObject)) {
    throw new Error(`${file} is not an nbformat 4 notebook`);
  }
  return value as Notebook;
}

/** Multi-line text as one string (files store it as a list of lines). */
function joined(value: Json | undefined): string {
  return Array.isArray(value) ? value.map(String).join('') : typeof value === 'string' ? value : '';
}

/** Python's `str.splitlines(True)`: lines with their endings, on every line boundary Python knows. */
export function splitLines(text: string): string[] {
  const lines: string[] = [];
  let start = 0;
  for (const m of text.matchAll(/\r\n|[\n\r\v\f\x1c\x1d\x1e\x85\u2028\u2029]/g)) {
    const end = (m.index ?? 0) + m[0].length;
    lines.push(text.slice(start, end));
    start = end;
  }
  if (start < text.length) lines.push(text.slice(start));
  return lines;
}

/** nbformat's JSON MIME test (those parts stay JSON, not text). */
const isNbformatJsonMime = (mime: string): boolean => mime === 'application/json' || (mime.startsWith('application/') && mime.endsWith('+json'));
/** execute.py's test for the parts it writes on one line. */
const isCompactMime = (mime: string): boolean => mime === 'application/json' || mime.endsWith('+json');

/** A MIME bundle's text parts as lists of lines, as nbformat writes them (after joining any lists read). */
function splitBundle(data: JsonObject): void {
  for (const [mime, value] of Object.entries(data)) {
    const text = Array.isArray(value) && !isNbformatJsonMime(mime) && value.every((v) => typeof v === 'string') ? value.join('') : value;
    data[mime] = typeof text === 'string' && (mime.startsWith('text/') || mime === 'application/javascript' || mime === 'image/svg+xml') ? splitLines(text) : text;
  }
}

/** nbformat's split_lines and strip_transient, in place. */
function prepareForFile(nb: Notebook): void {
  const meta = dictField(nb, 'metadata');
  if (meta) for (const key of ['orig_nbformat', 'orig_nbformat_minor', 'signature']) delete meta[key];
  for (const cell of nb.cells) {
    if (cell.source !== undefined) cell.source = splitLines(joined(cell.source));
    delete dictField(cell, 'metadata')?.trusted;
    for (const attachment of Object.values(dictField(cell, 'attachments') ?? {})) if (isObject(attachment)) splitBundle(attachment);
    if (cell.cell_type !== 'code' || !Array.isArray(cell.outputs)) continue;
    for (const output of cell.outputs.filter(isObject)) {
      const data = dictField(output, 'data');
      if ((output.output_type === 'execute_result' || output.output_type === 'display_data') && data) splitBundle(data);
      else if (output.output_type === 'stream') output.text = splitLines(joined(output.text));
    }
  }
}

/** A number as Python's json module writes the value Python reads from JavaScript's JSON of it. */
function pythonNumber(x: number): string {
  if (Number.isInteger(x) && Math.abs(x) < 1e21) return String(x); // read as a Python int
  const [mantissa, exponent] = x.toExponential().split('e');
  const e = Number(exponent);
  if (e < -4 || e >= 16) return `${mantissa}e${e < 0 ? '-' : '+'}${String(Math.abs(e)).padStart(2, '0')}`;
  return String(x);
}

/**
 * JSON as Python's `json.dumps(value, sort_keys=True, ensure_ascii=False)` writes it: with `indent`, items on
 * their own lines and `": "` after keys; without, compact (`","` and `":"`).
 */
export function pythonJson(value: Json, indent?: number, level = 0): string {
  if (typeof value === 'number') return pythonNumber(value);
  if (value === null || typeof value !== 'object') return JSON.stringify(value);
  const open = indent === undefined ? '' : `\n${' '.repeat(indent * (level + 1))}`;
  const close = indent === undefined ? '' : `\n${' '.repeat(indent * level)}`;
  if (Array.isArray(value)) {
    if (value.length === 0) return '[]';
    return `[${value.map((v) => open + pythonJson(v, indent, level + 1)).join(',')}${close}]`;
  }
  const keys = Object.keys(value).sort();
  if (keys.length === 0) return '{}';
  const colon = indent === undefined ? ':' : ': ';
  return `{${keys.map((k) => open + JSON.stringify(k) + colon + pythonJson(value[k], indent, level + 1)).join(',')}${close}}`;
}

/** The text of the notebook file, as execute.py writes it: nbformat's layout, JSON MIME parts on one line. */
export function notebookText(notebook: JsonObject): string {
  const nb = structuredClone(notebook) as Notebook;
  prepareForFile(nb);
  const compact: string[] = [];
  const placeholder = (i: number): string => `@@toeplitz-lab-compact-json-${i}@@`;
  for (const cell of nb.cells) {
    for (const output of Array.isArray(cell.outputs) ? cell.outputs.filter(isObject) : []) {
      const data = dictField(output, 'data') ?? {};
      for (const mime of Object.keys(data).sort()) {
        const part = data[mime];
        if (!isCompactMime(mime) || part === null || typeof part !== 'object') continue;
        compact.push(pythonJson(part));
        data[mime] = placeholder(compact.length - 1);
      }
    }
  }
  let text = pythonJson(nb, 1);
  compact.forEach((part, i) => {
    text = text.replace(JSON.stringify(placeholder(i)), () => part);
  });
  return `${text}\n`;
}

// ---------------------------------------------------------------------------------------------------------
// Running a notebook

/** Where a run stopped, if it did. */
interface Stop {
  index: number;
  source: string;
  outputs: CellOutputs;
  error: string;
}

const firstLine = (text: string): string => text.split('\n').map((l) => l.trim()).find((l) => l !== '') ?? '';

/** Why a reply means failure (undefined: it is 'ok'). tslab's error replies carry no message: use stderr. */
function replyError(reply: JupyterMessage, outputs: CellOutputs): string | undefined {
  const status = stringField(reply.content, 'status');
  if (status === 'ok') return undefined;
  if (status === 'abort' || status === 'aborted') return 'the kernel aborted the cell (it dropped the request)';
  const named = [stringField(reply.content, 'ename'), stringField(reply.content, 'evalue')].filter(Boolean).join(': ');
  return outputs.errorText() || named || firstLine(outputs.text('stderr')) || `the cell failed (reply status ${status ?? 'missing'}, no message)`;
}

const TIMEOUT_ENDINGS = {
  interrupted: 'was interrupted',
  died: 'the kernel died of the interrupt',
  killed: 'the kernel, deaf to SIGINT, was killed',
} as const;

/** Why an outcome means failure (undefined: the cell ran). */
function outcomeError(outcome: CellOutcome, outputs: CellOutputs, timeoutS: number): string | undefined {
  switch (outcome.kind) {
    case 'reply':
      return replyError(outcome.reply, outputs);
    case 'timeout':
      return `the cell ran past its time limit of ${timeoutS} s and ${TIMEOUT_ENDINGS[outcome.after]}${outcome.exit ? ` (${describeExit(outcome.exit)})` : ''}`;
    case 'died':
      return `the kernel died while the cell ran (${describeExit(outcome.exit)})`;
  }
}

/** Runs the code cells in order; records outputs, counts and seconds; returns where it stopped, if it did. */
async function runCells(kernel: KernelClient, nb: Notebook, timeoutS: number, seconds: Array<[number, number]>): Promise<Stop | undefined> {
  const displays: DisplayRegistry = new Map();
  let count = 0;
  for (const [index, cell] of nb.cells.entries()) {
    if (cell.cell_type !== 'code') continue;
    const source = joined(cell.source);
    const outputs = new CellOutputs(displays);
    cell.outputs = outputs.list;
    const start = performance.now();
    let error: string | undefined;
    try {
      error = outcomeError(await kernel.execute(source, timeoutS * 1000, (m) => outputs.add(m)), outputs, timeoutS);
    } catch (err) {
      error = `the cell could not be sent to the kernel: ${(err as Error).message}`;
    }
    cell.execution_count = ++count;
    seconds.push([index, Math.round((performance.now() - start) / 10) / 100]);
    if (error !== undefined) return { index, source, outputs, error };
  }
  return undefined;
}

/** The failure fields of a report: the cell, tslab's diagnostic (its stderr) and the kernel's own stderr. */
function failureFields(stop: Stop, kernelStderr: string): Partial<NotebookRun> {
  const stderr = [stop.outputs.text('stderr'), kernelStderr ? `--- kernel stderr (end) ---\n${kernelStderr}` : ''].filter(Boolean).join('\n');
  return { ok: false, failedCell: stop.index, source: stop.source, stderr, stdout: stop.outputs.text('stdout').slice(-STDOUT_REPORT_CHARS), error: stop.error };
}

/**
 * Executes the nbformat 4 notebook `file` on a fresh tslab kernel, code cell by code cell, and writes it, with
 * its outputs, to `options.output` (default: `file`), also when a cell fails. Resolves with the report; a failing
 * cell, a timeout, a dead kernel or one that does not start give `ok: false` (a kernel that never started writes
 * no notebook). Rejects only when `file` is not a notebook or the output cannot be written. The kernel is gone
 * when the promise settles.
 */
export async function executeNotebookNode(file: string, options: NodeExecuteOptions = {}): Promise<NotebookRun> {
  const nb = readNotebook(file);
  const timeoutS = options.timeoutS ?? DEFAULT_TIMEOUT_S;
  const report: NotebookRun = { notebook: file, ok: true, cells: nb.cells.length, seconds: [] };
  let kernel: KernelClient;
  try {
    kernel = await KernelClient.start({
      root: path.resolve(options.root ?? process.cwd()),
      env: { ...process.env, ...options.env },
      startTimeoutMs: (options.startTimeoutS ?? DEFAULT_START_TIMEOUT_S) * 1000,
      onSpawn: options.onKernelSpawn,
    });
  } catch (err) {
    return { ...report, ok: false, error: (err as Error).message, stderr: err instanceof KernelStartError ? err.stderr : '' };
  }
  let stop: Stop | undefined;
  try {
    stop = await runCells(kernel, nb, timeoutS, report.seconds);
  } finally {
    await kernel.shutdown();
  }
  await writeFileAtomic(options.output ?? file, [Buffer.from(notebookText(nb))]);
  return stop ? { ...report, ...failureFields(stop, kernel.stderrTail()) } : report;
}
