// Types for the COMPEIT WebAssembly connection agent.

export interface User { id: number; name: string; }

export interface RoomJoined { room: number; users: User[]; }
export interface Membership { room: number; user: User; }
export interface RequestError { event: string; code: string; message: string; }

export interface ChatMessage {
  id: number;
  room: number | null;
  ts: number;
  user: User;
  text?: string;
  to?: number;
  event?: 'user_joined' | 'user_left' | 'announcement';
}

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

export interface EventMap {
  connected: { user: User };
  reconnected: { user: User };
  disconnect: { reason: string };
  reconnecting: { attempt: number; delay: number };
  reconnect_failed: Record<string, never>;
  error: { message: string };
  room_joined: RoomJoined;
  user_joined: Membership;
  user_left: Membership;
  room_left: { room: number };
  request_error: RequestError;
  chat_message: { message: ChatMessage };
  chat_history: { room: number; messages: ChatMessage[] };
  media_config: { mode: 'mesh' | 'sfu'; iceServers: RTCIceServer[]; /** 'server' when the media server offers to subscribers (Janus); absent otherwise. */ offerer?: 'server' };
  streams: { streams: Stream[] };
  /** One of our streams is published (`stream`: its name, 'camera' unless named). */
  published: { stream: string };
  /** The server dropped that published stream of ours (e.g. it lost its media server); publish again to share. */
  unpublished: { stream: string };
  /** `stream`: the stream the failed request was about. */
  media_error: { action: string; code: string; message: string; stream?: string };
  /** A user's stream arrived: `name` says which of theirs ('camera', 'screen', …); `stream` and `mediaStream` are the same MediaStream. */
  remote_stream: { user: number; name: string; mediaStream: MediaStream; stream: MediaStream };
  remote_stream_removed: { user: number; name: string };
  /** A user's stream could not be received (the connection failed, retries spent). */
  receive_failed: { user: number; stream: string };
}

/** A published stream in the room (Kurento Agent); `stream`: its name, absent for the camera. */
export interface Stream { user: number; stream?: string; audio: boolean; video: boolean; filter: string | null; /** true while the media server records it (absent otherwise). */ recording?: boolean; }

export class CompeitError extends Error {
  /** A request_error code (bad_request, not_in_room, ...), or not_connected / disconnected / connect_failed. */
  code: string;
}

export class ConnectionAgent {
  user: User | null;
  room: number | null;
  readonly chat: {
    send(text: string): Promise<{ ok: true }>;
    sendTo(userId: number, text: string): Promise<{ ok: true }>;
    history(options?: { before?: number; limit?: number }): Promise<{ ok: true }>;
  };
  /** WebRTC in the active room: publish your camera (and a screen, or other named streams),
   *  receive everyone else's (mesh or media server). `stream` names a stream: 'camera' when
   *  absent, 'screen' for a shared screen, or 1-32 characters of a-z, 0-9, - and _ (4 per user). */
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
    /** sfu mode: records a published stream on the media server (false stops). */
    record(on?: boolean, stream?: string | { stream?: string }): Promise<Stream>;
    /** sfu mode with Kurento: a media-server filter on a published stream. */
    setFilter(filter: string, stream?: string | { stream?: string }): Promise<Stream>;
    mute(flags: { audio?: boolean; video?: boolean; stream?: string }): void;
    /** Unpublishes and closes every local stream, or the one named. */
    stop(stream?: string | { stream?: string }): void;
  };
  on<K extends keyof EventMap>(event: K, listener: (payload: EventMap[K]) => void): () => void;
  /** `token`: an access token (JWT) for a server started with --auth-secret or --auth-public-key. */
  connect(url: string, options?: { name?: string; token?: string }): Promise<User>;
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
