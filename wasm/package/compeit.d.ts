// Types for the COMPEIT WebAssembly connection agent. They need no DOM
// library: in a browser project the media types are the DOM's own, in a
// Node.js project (lib ES2022, no DOM) they are the minimal shapes below.

// --- media types: the DOM's where it is loaded, minimal shapes elsewhere ----------

/** The parts of a media track the agent uses. */
export interface MediaStreamTrackLike { readonly kind: string; enabled: boolean; stop(): void; }
/** The parts of a media stream the agent uses. */
export interface MediaStreamLike {
  readonly id: string;
  getTracks(): MediaStreamTrackLike[];
  getAudioTracks(): MediaStreamTrackLike[];
  getVideoTracks(): MediaStreamTrackLike[];
}
/** An ICE server as the server hands it out (RTCIceServer). */
export interface IceServerLike { urls: string | string[]; username?: string; credential?: string; }

/** The DOM's MediaStream in a browser project, MediaStreamLike otherwise. */
export type MediaStream = typeof globalThis extends { MediaStream: { prototype: infer T } } ? T : MediaStreamLike;
/** The DOM's MediaStreamTrack in a browser project, MediaStreamTrackLike otherwise. */
export type MediaStreamTrack = typeof globalThis extends { MediaStreamTrack: { prototype: infer T } } ? T : MediaStreamTrackLike;
/** An ICE server (the DOM's RTCIceServer has this shape). */
export type IceServer = IceServerLike;

// --- values --------------------------------------------------------------------

export interface User { id: number; name: string; }

export interface RoomJoined { room: number; users: User[]; }
export interface Membership { room: number; user: User; }

/**
 * Every code a rejected promise or a request_error may carry.
 * From the server (docs/protocol.md 2.1): bad_request, not_in_room, unknown_user, unknown_type,
 * room_full, too_large, rate_limited, forbidden, not_supported, unavailable, internal.
 * From the agent: not_connected (no connection yet), disconnected (the connection was lost before
 * the answer), connect_failed, unauthorized (connect() only); timeout is reserved (not produced yet).
 * From media: webrtc (the browser's WebRTC failed), not_publishing (the stream went away).
 */
export type ErrorCode =
  | 'bad_request' | 'not_in_room' | 'unknown_user' | 'unknown_type' | 'room_full' | 'too_large'
  | 'rate_limited' | 'forbidden' | 'not_supported' | 'unavailable' | 'internal'
  | 'not_connected' | 'disconnected' | 'connect_failed' | 'unauthorized' | 'timeout'
  | 'webrtc' | 'not_publishing';

/** A request error no promise was waiting for (the others reject their promise instead). */
export interface RequestError {
  /** The request's event: join_room, leave_room, server_message, room_message, or "" when unreadable. */
  event: string;
  code: ErrorCode;
  message: string;
  /** The agent type of a server_message or room_message. */
  type?: string;
}

/** A room chat message (CH-1). */
export interface ChatMessage { id: number; room: number; ts: number; user: User; text: string; }
/** A room's system event (CH-3): someone joined or left, or an operator's announcement (with text). */
export interface ChatEvent {
  id: number; room: number; ts: number; user: User;
  event: 'user_joined' | 'user_left' | 'announcement';
  text?: string;
}
/** A user-to-user message (CH-2), sent or received: `to` is the recipient, `room` null. */
export interface PrivateMessage { id: number; room: null; ts: number; user: User; text: string; to: number; }
/** What a room's history holds. */
export type HistoryEntry = ChatMessage | ChatEvent;

/** One page of history: oldest first; hasMore tells whether older messages exist. */
export interface HistoryPage { messages: HistoryEntry[]; hasMore: boolean; }

export type ConnectionState = 'connecting' | 'connected' | 'reconnecting' | 'disconnected';
export type StateReason =
  | 'connect' | 'connected' | 'resumed' | 'transport_closed' | 'heartbeat_timeout' | 'connect_timeout'
  | 'handshake_failed' | 'server_disconnect' | 'client_disconnect' | 'retries_exhausted' | 'resume_missed';
export interface StateChange {
  state: ConnectionState;
  previous: ConnectionState;
  reason: StateReason;
  /** reconnecting: the attempt about to be made (1, 2, ...). */
  attempt?: number;
  /** reconnecting: milliseconds until that attempt. */
  delay?: number;
}

/** Something application code threw (a listener, a register() callback); the agent went on. */
export interface ErrorEvent {
  error: unknown;
  /** Where: `listener:<event>`, `register:<type>:<server|room|user|membership>`, `agent:<op>`, or `connection`. */
  source: string;
}

/** A published stream in the room (Kurento Agent); `stream`: its name, absent for the camera. */
export interface Stream { user: number; stream?: string; audio: boolean; video: boolean; filter: string | null; /** true while the media server records it (absent otherwise). */ recording?: boolean; }

export interface AgentCallbacks {
  onServerMessage?(data: unknown): void;
  onRoomMessage?(from: number, data: unknown): void;
  onUserMessage?(from: number, data: unknown): void;
  onMembership?(event: 'room_joined' | 'user_joined' | 'user_left' | 'room_left', payload: unknown): void;
}

export interface AgentPort {
  sendToServer(data: unknown): Promise<{ ok: true }>;
  sendToRoom(data: unknown): Promise<{ ok: true }>;
  sendToUser(userId: number, data: unknown): Promise<{ ok: true }>;
}

/** The server's `connected` object; `resume`, `resumed` and `missed` belong to session resume. */
export interface Connected { user: User; resume?: string; resumed?: true; missed?: true; }

export interface EventMap {
  statechange: StateChange;
  connected: Connected;
  /** After a reconnect: `resumed` when the session (user id, room, missed messages) was kept,
   *  `missed` when it could not be and the room was joined afresh. */
  reconnected: Connected;
  disconnect: { reason: string };
  reconnecting: { attempt: number; delay: number };
  reconnect_failed: Record<string, never>;
  error: ErrorEvent;
  room_joined: RoomJoined;
  user_joined: Membership;
  user_left: Membership;
  room_left: { room: number };
  request_error: RequestError;
  chat_message: { message: ChatMessage };
  chat_event: { message: ChatEvent };
  private_message: { message: PrivateMessage };
  /** The active room's newest known chat (at most 1,000 messages), oldest first (after a join, and as pages merge in). */
  chat_history: { room: number; messages: HistoryEntry[] };
  media_config: { mode: 'mesh' | 'sfu'; iceServers: IceServer[]; /** 'server' when the media server offers to subscribers (Janus); absent otherwise. */ offerer?: 'server' };
  streams: { streams: Stream[] };
  /** One of our streams is published (`stream`: its name, 'camera' unless named). */
  published: { stream: string };
  /** The server dropped that published stream of ours (e.g. it lost its media server); publish again to share. */
  unpublished: { stream: string };
  /** `stream`: the stream the failed request was about. */
  media_error: { action: string; code: ErrorCode; message: string; stream?: string };
  /** A user's stream arrived: `name` says which of theirs ('camera', 'screen', …); `stream` and `mediaStream` are the same MediaStream. */
  remote_stream: { user: number; name: string; mediaStream: MediaStream; stream: MediaStream };
  remote_stream_removed: { user: number; name: string };
  /** A user's stream could not be received (the connection failed, retries spent). */
  receive_failed: { user: number; stream: string };
}

export class CompeitError extends Error {
  readonly name: 'CompeitError';
  readonly code: ErrorCode;
  /** The failed request's event (join_room, room_message, ...), when known. */
  readonly event?: string;
  /** The failed message's agent type, when known. */
  readonly type?: string;
}

export interface ConnectOptions {
  /** The user's name (the server may take it from the token instead). */
  name?: string;
  /** An access token (JWT) for a server started with --auth-secret or --auth-public-key. */
  token?: string;
  /** Reconnect after a lost connection (default true). A first connect that fails is never retried. */
  reconnect?: boolean;
  /** Attempts before giving up (default 10). */
  maxAttempts?: number;
  /** The first delay in ms (default 500); it doubles per attempt up to maxDelay. */
  minDelay?: number;
  /** The longest delay in ms (default 10000). */
  maxDelay?: number;
  /** 0..1: how much of each delay is random (default 0.5), so that clients do not return all at once. */
  jitter?: number;
  /** Resume the session after a short loss: same user id and room, missed messages delivered (default true). */
  resume?: boolean;
}

export type Unsubscribe = () => void;

export class ConnectionAgent {
  user: User | null;
  room: number | null;
  /** The connection's state; `statechange` tells every change with its reason. */
  readonly state: ConnectionState;
  readonly chat: {
    /** Resolves once the message is stored and delivered. */
    send(text: string): Promise<{ ok: true }>;
    sendTo(userId: number, text: string): Promise<{ ok: true }>;
    /** A page of the room's history older than `before` (an id; default: the newest), `limit` 1..200 (default 50). */
    history(options?: { before?: number; limit?: number }): Promise<HistoryPage>;
  };
  /** WebRTC in the active room: publish your camera (and a screen, or other named streams),
   *  receive everyone else's (mesh or media server). `stream` names a stream: 'camera' when
   *  absent, 'screen' for a shared screen, or 1-32 characters of a-z, 0-9, - and _ (4 per user).
   *  Browser only. */
  readonly media: {
    /** getUserMedia for the camera, getDisplayMedia for 'screen', or your own `mediaStream`. */
    start(options?: { audio?: boolean; video?: boolean; stream?: string; mediaStream?: MediaStream }): Promise<MediaStream>;
    /** The camera stream, or null. */
    readonly localStream: MediaStream | null;
    readonly localStreams: Map<string, MediaStream>;
    publish(flags?: { audio?: boolean; video?: boolean; stream?: string }): Promise<{ stream: string }>;
    unpublish(stream?: string | { stream?: string }): void;
    /** start({stream:'screen'}) and publish it; the browser's "Stop sharing" stops it too. */
    shareScreen(options?: { audio?: boolean; mediaStream?: MediaStream }): Promise<MediaStream>;
    stopScreen(): void;
    /** Swaps the local stream's track of the same kind (another camera or microphone) on every
     *  connection sending it, without renegotiating; the old track is stopped. */
    replaceTrack(track: MediaStreamTrack, options?: { stream?: string }): Promise<void>;
    /** sfu mode: records a published stream on the media server (false stops). */
    record(on?: boolean, stream?: string | { stream?: string }): Promise<Stream>;
    /** sfu mode with Kurento: a media-server filter on a published stream. */
    setFilter(filter: string, stream?: string | { stream?: string }): Promise<Stream>;
    mute(flags: { audio?: boolean; video?: boolean; stream?: string }): void;
    /** Unpublishes and closes every local stream, or the one named. */
    stop(stream?: string | { stream?: string }): void;
  };
  on<K extends keyof EventMap>(event: K, listener: (payload: EventMap[K]) => void): Unsubscribe;
  once<K extends keyof EventMap>(event: K, listener: (payload: EventMap[K]) => void): Unsubscribe;
  off<K extends keyof EventMap>(event: K, listener: (payload: EventMap[K]) => void): void;
  /** Resolves with the user once connected; rejects once (connect_failed, unauthorized) and stops. */
  connect(url: string, options?: ConnectOptions): Promise<User>;
  disconnect(): void;
  joinRoom(room: number): Promise<RoomJoined>;
  leaveRoom(): Promise<{ room: number }>;
  register(type: string, callbacks?: AgentCallbacks): AgentPort;
}

export interface LoadOptions {
  /** The .wasm bytes, when the loader should not fetch or read them itself. */
  wasmBinary?: ArrayBuffer | Uint8Array;
  /** A WebSocket constructor (defaults to the global one, or the `ws` package on Node.js). */
  WebSocket?: unknown;
}

export function createConnectionAgent(options?: LoadOptions): Promise<ConnectionAgent>;
