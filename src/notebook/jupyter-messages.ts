/**
 * The Jupyter messaging protocol's wire format (v5.3), as our own notebook runner speaks it to the tslab kernel
 * over ZeroMQ (see jupyter-client.ts): building messages, encoding them into frames with their HMAC-SHA256
 * signature, and decoding and verifying the frames a kernel sends.
 *
 * A message on the wire is the multipart frame list
 *   [routing ids..., '<IDS|MSG>', signature, header, parent_header, metadata, content, buffers...]
 * where the four dictionaries are JSON and the signature is the hex HMAC-SHA256, under the connection file's
 * key, of those four JSON frames in that order (an empty key means unsigned messages, signature '').
 *
 * Left out: other signature schemes than hmac-sha256, and any meaning for binary buffers (kept as frames,
 * not signed, as the protocol says).
 */
import { createHmac, randomUUID, timingSafeEqual } from 'node:crypto';

/** A JSON value, as message dictionaries hold them. */
export type Json = null | boolean | number | string | Json[] | JsonObject;
export interface JsonObject {
  [key: string]: Json;
}

/** The delimiter between ZeroMQ routing ids and the message proper. */
export const DELIMITER = '<IDS|MSG>';
export const PROTOCOL_VERSION = '5.3';

export interface MessageHeader {
  msg_id: string;
  msg_type: string;
  session: string;
  username: string;
  date: string;
  version: string;
}

export interface JupyterMessage {
  /** ZeroMQ routing ids before the delimiter (empty on a DEALER or SUB socket's side, but for iopub topics). */
  identities: Buffer[];
  header: MessageHeader;
  /** The header of the request this answers; `{}` for a request. */
  parent_header: Partial<MessageHeader>;
  metadata: JsonObject;
  content: JsonObject;
  buffers: Buffer[];
}

/** A frame list that is not a valid message, or whose signature does not verify. */
export class MessageError extends Error {
  override name = 'MessageError';
}

/** The hex HMAC-SHA256 of `parts` under `key` ('' when the key is empty: signing is off). */
export function sign(key: string, parts: ReadonlyArray<string | Buffer>): string {
  if (key === '') return '';
  const hmac = createHmac('sha256', key);
  for (const part of parts) hmac.update(part);
  return hmac.digest('hex');
}

/** Whether `signature` is the signature of `parts` under `key` (compared in constant time). */
export function verify(key: string, signature: string, parts: ReadonlyArray<string | Buffer>): boolean {
  const want = Buffer.from(sign(key, parts));
  const got = Buffer.from(signature);
  return want.length === got.length && timingSafeEqual(want, got);
}

/** A new message (a request when `parent` is absent) from a client session. */
export function newMessage(msgType: string, session: string, content: JsonObject, parent?: MessageHeader): JupyterMessage {
  const header: MessageHeader = {
    msg_id: randomUUID(),
    msg_type: msgType,
    session,
    username: 'toeplitz-lab',
    date: new Date().toISOString(),
    version: PROTOCOL_VERSION,
  };
  return { identities: [], header, parent_header: parent ?? {}, metadata: {}, content, buffers: [] };
}

/** The frames of `message`, signed with `key`. */
export function encode(message: JupyterMessage, key: string): Buffer[] {
  const parts = [message.header, message.parent_header, message.metadata, message.content].map((d) => JSON.stringify(d));
  return [...message.identities, Buffer.from(DELIMITER), Buffer.from(sign(key, parts)), ...parts.map((p) => Buffer.from(p)), ...message.buffers];
}

/** Parses one JSON frame that must hold a dictionary. */
function parseDict(frame: Buffer, what: string): JsonObject {
  let value: unknown;
  try {
    value = JSON.parse(frame.toString('utf8'));
  } catch {
    throw new MessageError(`the ${what} frame is not JSON`);
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) throw new MessageError(`the ${what} frame is not a dictionary`);
  return value as JsonObject;
}

/** Whether a parsed header has the fields every header has. */
function isHeader(value: JsonObject): boolean {
  return typeof value.msg_id === 'string' && typeof value.msg_type === 'string';
}

/** The message in `frames`; throws MessageError when it is malformed or its signature does not verify. */
export function decode(frames: ReadonlyArray<Buffer>, key: string): JupyterMessage {
  const at = frames.findIndex((f) => f.toString('latin1') === DELIMITER);
  if (at < 0) throw new MessageError(`no ${DELIMITER} delimiter among ${frames.length} frames`);
  if (frames.length < at + 6) throw new MessageError(`${frames.length - at - 1} frames after the delimiter, need 5`);
  const [signature, ...rest] = frames.slice(at + 1);
  const signed = rest.slice(0, 4);
  if (!verify(key, signature.toString('latin1'), signed)) throw new MessageError('the signature does not match (wrong key or altered message)');
  const header = parseDict(signed[0], 'header');
  if (!isHeader(header)) throw new MessageError('the header has no msg_id or msg_type');
  return {
    identities: frames.slice(0, at),
    header: header as unknown as MessageHeader,
    parent_header: parseDict(signed[1], 'parent_header') as Partial<MessageHeader>,
    metadata: parseDict(signed[2], 'metadata'),
    content: parseDict(signed[3], 'content'),
    buffers: rest.slice(4),
  };
}

/** A string field of a dictionary, or undefined. */
export function stringField(dict: JsonObject, key: string): string | undefined {
  const value = dict[key];
  return typeof value === 'string' ? value : undefined;
}

/** A dictionary field of a dictionary, or undefined. */
export function dictField(dict: JsonObject, key: string): JsonObject | undefined {
  const value = dict[key];
  return value !== null && typeof value === 'object' && !Array.isArray(value) ? value : undefined;
}
