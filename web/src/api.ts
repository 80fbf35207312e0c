// The Airwaves HTTP API (v1), as the app uses it. Every failure becomes an ApiError whose
// `sentence` is what the page shows: never raw JSON.

export type Role = "host" | "cohost" | "speaker" | "listener";

export interface Ticket { price_cents: number; currency: string; quantity: number; sold: number }
export interface Pinned { text: string | null; url: string | null; pinned_by: string; pinned_at: string }
export interface Join { livekit_url: string; token: string; role: Role; expires_at: string; transport?: string; hls_url?: string }
export interface Space {
  id: string; host_id: string; cohost_ids: string[]; speaker_ids: string[]; title: string; topics: string[];
  state: "scheduled" | "live" | "ended" | "canceled"; scheduled_start: string | null; started_at: string | null;
  ended_at: string | null; listener_count: number; peak_listener_count: number; ticket: Ticket | null;
  recording: boolean; captions?: boolean; clips_enabled?: boolean; pinned?: Pinned | null; join?: Join | null;
}
export interface Page<T> { items: T[]; next_cursor: string | null }
export interface User { id: string; handle: string; display_name: string; follower_count: number; following_count: number }
export interface Participant { user_id: string; role: Role; connected: boolean; publishing: boolean; muted: boolean }
export interface SpeakRequest { space_id: string; user_id: string; requested_at: string }
export interface Participants {
  space_id: string; state: string; host: Participant; cohosts: Participant[]; speakers: Participant[];
  listeners: Participant[]; speak_requests: SpeakRequest[] | null; listener_count: number; peak_listener_count: number;
}
export interface Message { id: string; space_id: string; from_user_id: string; to_user_id: string | null; text: string; created_at: string }
export interface Purchase {
  ticket_id: string; space_id: string; status: string; amount_cents: number; currency: string;
  client_secret: string; publishable_key: string; hold_expires_at: string;
}
export interface Clip { id: string; space_id: string; state: string; duration_seconds: number | null; url: string | null }
export interface Replay {
  state: string; duration_seconds: number | null; playback_url: string | null; download_url: string | null; transcript_url: string | null;
}

export class ApiError extends Error {
  constructor(readonly status: number, readonly code: string, readonly sentence: string) {
    super(sentence);
  }
}

/** "the title: must not be empty" -> "The title: must not be empty." */
export function asSentence(text: string): string {
  const t = text.trim();
  if (!t) return "Something went wrong.";
  const first = t[0]!.toUpperCase() + t.slice(1);
  return /[.!?]$/.test(first) ? first : first + ".";
}

/** The `sub` claim of a JWT, read without verifying it (the API verifies every call); null
 * when the text is not a JWT with a subject. */
export function tokenSubject(token: string): string | null {
  const part = token.split(".")[1];
  if (!part) return null;
  try {
    const json = atob(part.replace(/-/g, "+").replace(/_/g, "/").padEnd(Math.ceil(part.length / 4) * 4, "="));
    const sub = (JSON.parse(json) as { sub?: unknown }).sub;
    return typeof sub === "string" && sub ? sub : null;
  } catch {
    return null;
  }
}

export class Api {
  token = "";
  userId = "";
  /** The stage the API reports at `GET /` ("local" keeps the dev sign-in and the dev pay route). */
  stage = "local";
  private paths = new Set<string>();

  constructor(readonly base: string) {}

  /** Which optional routes this API serves (from its OpenAPI document), so the page can show
   * "not available" for features that have not shipped on this server. */
  async discover(): Promise<void> {
    const doc = await this.request<{ paths: Record<string, Record<string, unknown>> }>("GET", "/v1/openapi.json", undefined, false);
    this.paths = new Set(Object.entries(doc.paths).flatMap(([p, ops]) => Object.keys(ops).map((m) => `${m.toUpperCase()} ${p}`)));
    const root = await this.request<{ stage?: string }>("GET", "/", undefined, false).catch(() => null);
    this.stage = root?.stage ?? (this.has("POST", "/v1/dev/tokens") ? "local" : "deployed");
  }

  get isLocal(): boolean { return this.stage === "local"; }

  has(method: string, path: string): boolean {
    return this.paths.has(`${method} ${path}`);
  }

  async request<T>(method: string, path: string, body?: unknown, auth = true, idempotencyKey?: string): Promise<T> {
    const headers: Record<string, string> = {};
    if (body !== undefined || method !== "GET") headers["Content-Type"] = "application/json";
    if (auth && this.token) headers["Authorization"] = `Bearer ${this.token}`;
    if (idempotencyKey) headers["Idempotency-Key"] = idempotencyKey;
    let res: Response;
    try {
      res = await fetch(this.base + path, { method, headers, body: body === undefined ? (method === "GET" ? undefined : "{}") : JSON.stringify(body) });
    } catch {
      throw new ApiError(0, "network", `Could not reach the Airwaves API at ${this.base}. Check that it is running.`);
    }
    const text = await res.text();
    let data: unknown = null;
    try { data = text ? JSON.parse(text) : null; } catch { data = null; }
    if (!res.ok) {
      const err = (data as { error?: { code?: string; message?: string } } | null)?.error;
      const sentence = err?.message ? asSentence(err.message) : `The API answered ${res.status} ${res.statusText}.`;
      throw new ApiError(res.status, err?.code ?? "http_" + res.status, sentence);
    }
    return data as T;
  }

  // -- sign-in and people ----------------------------------------------------------------------
  async devSignIn(userId: string, displayName: string): Promise<User> {
    const minted = await this.request<{ token: string }>("POST", "/v1/dev/tokens", { user_id: userId, admin: false }, false);
    this.token = minted.token;
    this.userId = userId;
    try {
      return await this.user(userId);
    } catch (e) {
      if (!(e instanceof ApiError) || e.status !== 404) throw e;
    }
    // A first visit: import a profile with enough followers to host (dev stage only, as an admin).
    const admin = await this.request<{ token: string }>("POST", "/v1/dev/tokens", { user_id: "dev-admin", admin: true }, false);
    const handle = userId.replace(/[^A-Za-z0-9_]/g, "_").slice(0, 30);
    const res = await fetch(`${this.base}/v1/admin/users/${encodeURIComponent(userId)}`, {
      method: "PUT", headers: { "Content-Type": "application/json", Authorization: `Bearer ${admin.token}` },
      body: JSON.stringify({ handle, display_name: displayName || userId, follower_count: 1000, birthdate: "1990-01-01" }),
    });
    if (!res.ok) throw new ApiError(res.status, "profile", "Could not create your dev profile.");
    return this.user(userId);
  }

  /** Sign in with the identity provider's token (deployed stages; the local stage accepts tokens
   * signed as its auth expects too). The API checks the token on the first call. */
  async tokenSignIn(token: string): Promise<User | null> {
    const sub = tokenSubject(token);
    if (!sub) throw new ApiError(401, "token", "That is not a sign-in token (a JWT with a subject).");
    this.token = token;
    this.userId = sub;
    try {
      await this.following(); // an authenticated call: a bad or expired token fails here
      try {
        return await this.user(sub);
      } catch (e) {
        if (!(e instanceof ApiError) || e.status !== 404) throw e;
        return null; // the token works; this user just has no profile yet
      }
    } catch (e) {
      this.token = "";
      this.userId = "";
      if (e instanceof ApiError && e.status === 401) throw new ApiError(401, e.code, `The token was refused: ${e.sentence}`);
      throw e;
    }
  }

  user(id: string) { return this.request<User>("GET", `/v1/users/${encodeURIComponent(id)}`); }
  follow(id: string) { return this.request("PUT", `/v1/me/following/${encodeURIComponent(id)}`); }
  unfollow(id: string) { return this.request("DELETE", `/v1/me/following/${encodeURIComponent(id)}`); }
  following() { return this.request<Page<User>>("GET", "/v1/me/following"); }

  // -- Spaces ----------------------------------------------------------------------------------
  spaces(state: "live" | "scheduled", opts: { following?: boolean; topic?: string } = {}) {
    const q = new URLSearchParams({ state });
    if (opts.following) q.set("following", "true");
    if (opts.topic) q.set("topic", opts.topic);
    return this.request<Page<Space>>("GET", `/v1/spaces?${q}`);
  }
  space(id: string) { return this.request<Space>("GET", `/v1/spaces/${id}`); }
  create(body: Record<string, unknown>) { return this.request<Space>("POST", "/v1/spaces", body, true, crypto.randomUUID()); }
  patch(id: string, body: Record<string, unknown>) { return this.request<Space>("PATCH", `/v1/spaces/${id}`, body); }
  start(id: string) { return this.request<Space>("POST", `/v1/spaces/${id}/start`); }
  end(id: string) { return this.request<Space>("POST", `/v1/spaces/${id}/end`); }
  cancel(id: string) { return this.request<Space>("DELETE", `/v1/spaces/${id}`); }
  remind(id: string, on: boolean) { return this.request(on ? "PUT" : "DELETE", `/v1/spaces/${id}/reminder`); }
  join(id: string) { return this.request<Join>("POST", `/v1/spaces/${id}/join`); }
  participants(id: string) { return this.request<Participants>("GET", `/v1/spaces/${id}/participants`); }

  // -- the stage -------------------------------------------------------------------------------
  raiseHand(id: string) { return this.request("POST", `/v1/spaces/${id}/speak-requests`); }
  lowerHand(id: string) { return this.request("DELETE", `/v1/spaces/${id}/speak-requests`); }
  approve(id: string, user: string) { return this.request("POST", `/v1/spaces/${id}/speak-requests/${user}/approve`); }
  deny(id: string, user: string) { return this.request("POST", `/v1/spaces/${id}/speak-requests/${user}/deny`); }
  setSpeaker(id: string, user: string, on: boolean) { return this.request(on ? "PUT" : "DELETE", `/v1/spaces/${id}/speakers/${user}`); }
  setCohost(id: string, user: string, on: boolean) { return this.request(on ? "PUT" : "DELETE", `/v1/spaces/${id}/cohosts/${user}`); }
  mute(id: string, user: string) { return this.request("POST", `/v1/spaces/${id}/participants/${user}/mute`); }
  remove(id: string, user: string) { return this.request("POST", `/v1/spaces/${id}/participants/${user}/remove`); }
  react(id: string, emoji: string) { return this.request("POST", `/v1/spaces/${id}/reactions`, { emoji }); }

  // -- wave 2: chat, moderation, pins, recording (shown as not available until served) --------
  messages(id: string) { return this.request<Page<Message>>("GET", `/v1/spaces/${id}/messages`); }
  send(id: string, text: string, to: string | null) {
    return this.request<Message>("POST", `/v1/spaces/${id}/messages`, to ? { text, to_user_id: to } : { text }, true, crypto.randomUUID());
  }
  deleteMessage(id: string, messageId: string) { return this.request("DELETE", `/v1/spaces/${id}/messages/${messageId}`); }
  chatMute(id: string, user: string, on: boolean) { return this.request(on ? "PUT" : "DELETE", `/v1/spaces/${id}/chat-mutes/${user}`); }
  block(user: string) { return this.request("PUT", `/v1/me/blocks/${user}`); }
  pin(id: string, text: string, url: string) {
    return this.request<Space>("PUT", `/v1/spaces/${id}/pin`, { ...(text ? { text } : {}), ...(url ? { url } : {}) });
  }
  unpin(id: string) { return this.request("DELETE", `/v1/spaces/${id}/pin`); }
  clip(id: string) { return this.request<Clip>("POST", `/v1/spaces/${id}/clips`, undefined, true, crypto.randomUUID()); }
  replay(id: string) { return this.request<Replay>("GET", `/v1/spaces/${id}/replay`); }

  // -- tickets ---------------------------------------------------------------------------------
  buyTicket(id: string) { return this.request<Purchase>("POST", `/v1/spaces/${id}/tickets`, undefined, true, crypto.randomUUID()); }
  devPay(spaceId: string, ticketId: string) {
    return this.request<{ status: string }>("POST", `/v1/dev/spaces/${spaceId}/tickets/${ticketId}/pay`);
  }
}
