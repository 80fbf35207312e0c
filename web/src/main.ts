// The Airwaves web app: sign in (dev), find Spaces, listen, raise a hand, speak, react, chat,
// read captions and the pinned item; host and moderate. Plain DOM, no framework.
import { Api, ApiError, type Join, type Message, type Participant, type Participants, type Space } from "./api";
import { type MountedPayment, mountPaymentElement, paymentRoute } from "./payments";
import { attachHls, HlsStage } from "./hls";
import { type Caption, SpaceRoom, type StageListener } from "./room";

const REACTIONS = ["👏", "❤️", "😂", "🔥", "💯", "🙏"];
const POLL_MS = 2500;
const HLS_POLL_MS = 5000; // listeners over HLS read the Space (one cheap read), not the media server
const RENEW_EARLY_MS = 60_000; // join again this long before an HLS link expires

const $ = <T extends HTMLElement = HTMLElement>(id: string): T => {
  const el = document.getElementById(id);
  if (!el) throw new Error(`#${id} is missing`);
  return el as T;
};
function h<K extends keyof HTMLElementTagNameMap>(tag: K, props: Partial<HTMLElementTagNameMap[K]> = {}, ...kids: (Node | string)[]) {
  const el = Object.assign(document.createElement(tag), props);
  el.append(...kids);
  return el;
}
function button(label: string, onClick: () => Promise<unknown> | void, extra: Partial<HTMLButtonElement> = {}) {
  const b = h("button", { type: "button", textContent: label, ...extra });
  b.addEventListener("click", () => run(async () => { b.disabled = true; try { await onClick(); } finally { b.disabled = false; } }));
  return b;
}

// -- status and errors: sentences, never JSON ----------------------------------------------------
function say(text: string) { $("status").textContent = text; }
function showError(err: unknown) {
  const box = $("error");
  box.textContent = err instanceof ApiError ? err.sentence : err instanceof Error ? `Something went wrong: ${err.message}.` : "Something went wrong.";
  box.hidden = false;
}
function clearError() { $("error").hidden = true; $("error").textContent = ""; }
async function run(task: () => Promise<unknown>) {
  clearError();
  try { await task(); } catch (e) { showError(e); }
}

// -- state ---------------------------------------------------------------------------------------
interface Config { api_url: string }
let api: Api;
let current: { space: Space; join: Join; room: StageListener; handUp: boolean; role: string; poll: number; meter: number; renew: number } | null = null;
const seen = new Set<string>();
const captions = new Map<string, HTMLParagraphElement>();

async function boot() {
  const config: Config = await fetch("config.json").then((r) => r.json() as Promise<Config>).catch(() => ({ api_url: "http://127.0.0.1:8000" }));
  api = new Api(config.api_url.replace(/\/$/, ""));
  (window as unknown as { airwaves: unknown }).airwaves = {
    peakHz: () => current?.room.peakHz() ?? null,
    level: () => current?.room.level() ?? 0,
    role: () => current?.role ?? null,
    spaceId: () => current?.space.id ?? null,
    transport: () => current?.room.transport ?? null,
    playback: () => current?.room instanceof HlsStage ? current.room.playback() : null,
    remoteTracks: () => current?.room instanceof SpaceRoom ? [...current.room.room.remoteParticipants.values()].flatMap((p) =>
      [...p.trackPublications.values()].map((t) => ({ identity: p.identity, sid: t.trackSid }))) : [],
  };
  for (const emoji of REACTIONS) {
    document.querySelector(".reactions")!.append(button(emoji, async () => { if (current) await api.react(current.space.id, emoji); }, { ariaLabel: `React ${emoji}` }));
  }
  wireForms();
  await run(() => api.discover());
  // The dev sign-in exists only where the API is the local stage; every stage takes a token.
  $("signin-form").hidden = !api.isLocal;
  $("token-hint").textContent = api.isLocal
    ? "Or paste a token signed as this local stage's auth accepts (POST /v1/dev/tokens mints one)."
    : "Paste the token your identity provider gave you (a JWT). It stays in this tab only.";
  // A token handed over by the host page (window.AIRWAVES_TOKEN) or in the URL fragment
  // (#access_token=... or #token=...), then dropped from the address bar.
  const fragment = new URLSearchParams(location.hash.replace(/^#/, ""));
  const handed = fragment.get("access_token") ?? fragment.get("token") ?? (window as unknown as { AIRWAVES_TOKEN?: string }).AIRWAVES_TOKEN;
  if (fragment.has("access_token") || fragment.has("token")) history.replaceState(null, "", location.pathname + location.search);
  const savedToken = handed || sessionStorage.getItem("airwaves.token");
  const saved = sessionStorage.getItem("airwaves.user");
  if (savedToken) await tokenSignIn(savedToken);
  else if (saved && api.isLocal) await signIn(saved, "");
}

function wireForms() {
  $("signin-form").addEventListener("submit", (e) => {
    e.preventDefault();
    void signIn($<HTMLInputElement>("signin-user").value.trim(), $<HTMLInputElement>("signin-name").value.trim());
  });
  $("token-form").addEventListener("submit", (e) => {
    e.preventDefault();
    void tokenSignIn($<HTMLTextAreaElement>("token-input").value.trim());
  });
  $("signout").addEventListener("click", () => {
    sessionStorage.removeItem("airwaves.user");
    sessionStorage.removeItem("airwaves.token");
    location.reload();
  });
  $("payment-pay").addEventListener("click", () => run(confirmPayment));
  $("payment-cancel").addEventListener("click", () => { payment?.destroy(); payment = null; $("payment-view").hidden = true; say("Payment canceled; the seat is released if it is not paid in time."); });
  $("topic-form").addEventListener("submit", (e) => { e.preventDefault(); void run(refreshHome); });
  $("follow-form").addEventListener("submit", (e) => {
    e.preventDefault();
    void run(async () => {
      const who = $<HTMLInputElement>("follow-input").value.trim();
      await api.follow(who);
      $<HTMLInputElement>("follow-input").value = "";
      say(`You follow ${who} now.`);
      await refreshHome();
    });
  });
  for (const radio of document.querySelectorAll<HTMLInputElement>("input[name=when]")) {
    radio.addEventListener("change", () => {
      $("create-later").hidden = radio.value === "now" && radio.checked;
      $("create-ticket").hidden = !(radio.value === "ticketed" && radio.checked);
    });
  }
  $("create-form").addEventListener("submit", (e) => { e.preventDefault(); void run(createSpace); });
  $("chat-form").addEventListener("submit", (e) => { e.preventDefault(); void run(sendChat); });
  $("invite-form").addEventListener("submit", (e) => {
    e.preventDefault();
    void run(async () => {
      const who = $<HTMLInputElement>("invite-user").value.trim();
      await api.setSpeaker(current!.space.id, who, true);
      say(`${who} is invited to speak.`);
    });
  });
  $("pin-form").addEventListener("submit", (e) => {
    e.preventDefault();
    void run(async () => {
      const space = await api.pin(current!.space.id, $<HTMLInputElement>("pin-text").value.trim(), $<HTMLInputElement>("pin-url").value.trim());
      showPinned(space.pinned ?? null);
    });
  });
  $("unpin").addEventListener("click", () => run(async () => { await api.unpin(current!.space.id); showPinned(null); }));
  $("mic").addEventListener("click", () => run(toggleMic));
  $("hand").addEventListener("click", () => run(toggleHand));
  $("leave-stage").addEventListener("click", () => run(async () => { await api.setSpeaker(current!.space.id, api.userId, false); }));
  $("clip").addEventListener("click", () => run(async () => {
    const clip = await api.clip(current!.space.id);
    say(clip.url ? `Your clip is ready: ${clip.url}` : "Your clip is being made.");
  }));
  $("leave").addEventListener("click", () => run(() => leave("You left the Space.")));
  $("replay-close").addEventListener("click", () => {
    replayPlayer?.destroy();
    replayPlayer = null;
    $<HTMLAudioElement>("replay-audio").pause();
    $("replay-view").hidden = true;
    $("home-view").hidden = false;
  });
  $("end").addEventListener("click", () => run(async () => {
    await api.end(current!.space.id);
    await leave("You ended the Space. This Space has ended.");
  }));
  for (const [id, field] of [["toggle-recording", "recording"], ["toggle-captions", "captions"], ["toggle-clips", "clips_enabled"]] as const) {
    $(id).addEventListener("change", () => run(async () => {
      const on = $<HTMLInputElement>(id).checked;
      current!.space = await api.patch(current!.space.id, { [field]: on });
      say(`${field.replace("_enabled", "")} ${on ? "on" : "off"}.`);
    }));
  }
}

// -- signing in and home -------------------------------------------------------------------------
async function signIn(userId: string, name: string) {
  await run(async () => {
    const me = await api.devSignIn(userId, name);
    sessionStorage.setItem("airwaves.user", userId);
    sessionStorage.removeItem("airwaves.token");
    $("whoami").textContent = `Signed in as ${me.display_name} (@${me.handle})`;
    $("signout").hidden = false;
    $("signin-view").hidden = true;
    $("home-view").hidden = false;
    say(`Welcome, ${me.display_name}.`);
    await refreshHome();
  });
}

/** Sign in with the identity provider's token; kept in sessionStorage (this tab only), never
 * localStorage. */
async function tokenSignIn(token: string) {
  await run(async () => {
    const me = await api.tokenSignIn(token);
    sessionStorage.setItem("airwaves.token", token);
    sessionStorage.removeItem("airwaves.user");
    $<HTMLTextAreaElement>("token-input").value = "";
    $("whoami").textContent = me ? `Signed in as ${me.display_name} (@${me.handle})` : `Signed in as ${api.userId}`;
    $("signout").hidden = false;
    $("signin-view").hidden = true;
    $("home-view").hidden = false;
    say(me ? `Welcome, ${me.display_name}.` : `Welcome, ${api.userId}. You have no profile on this server yet.`);
    await refreshHome();
  }).catch(() => undefined);
  if (!api.token) sessionStorage.removeItem("airwaves.token");
}

function spaceCard(space: Space): HTMLLIElement {
  const when = space.state === "live"
    ? `Live · ${space.listener_count} listening`
    : `Starts ${space.scheduled_start ? new Date(space.scheduled_start).toLocaleString() : "soon"}`;
  const price = space.ticket ? ` · Ticket ${(space.ticket.price_cents / 100).toFixed(2)} ${space.ticket.currency.toUpperCase()} (${space.ticket.quantity - space.ticket.sold} left)` : "";
  const li = h("li", {}, h("h4", { textContent: space.title }),
    h("p", { textContent: `Hosted by ${space.host_id}${space.topics.length ? " · " + space.topics.join(", ") : ""} · ${when}${price}` }));
  const mine = space.host_id === api.userId;
  if (space.state === "live") li.append(button(`Join ${space.title}`, () => enter(space.id), { ariaLabel: `Join ${space.title}` }));
  if (space.state === "scheduled") {
    if (mine) {
      li.append(button("Start now", async () => { const s = await api.start(space.id); await enter(s.id, s.join ?? undefined); }));
      li.append(button("Cancel", async () => { await api.cancel(space.id); say("The Space is canceled; any tickets are refunded."); await refreshHome(); }, { className: "secondary" }));
    } else {
      li.append(button("Remind me", async () => { await api.remind(space.id, true); say(`You will be reminded when ${space.title} starts.`); }));
      li.append(button("No reminder", async () => { await api.remind(space.id, false); say("Reminder removed."); }, { className: "secondary" }));
    }
  }
  if (space.ticket && !mine) li.append(button("Buy ticket", () => buyTicket(space)));
  return li;
}

function fill(listId: string, spaces: Space[], empty: string) {
  const list = $(listId);
  list.replaceChildren(...(spaces.length ? spaces.map(spaceCard) : [h("li", { className: "hint", textContent: empty })]));
}

async function refreshHome() {
  const topic = $<HTMLInputElement>("topic-input").value.trim().toLowerCase();
  const [followed, live, scheduled, following] = await Promise.all([
    api.spaces("live", { following: true }), api.spaces("live", { topic: topic || undefined }),
    api.spaces("scheduled"), api.following()]);
  fill("following-live", followed.items, "Nobody you follow is live right now.");
  fill("live-list", live.items, topic ? `Nothing live about ${topic}.` : "Nothing is live right now.");
  fill("scheduled-list", scheduled.items, "Nothing is scheduled.");
  $("following-list").replaceChildren(...(following.items.length ? following.items.map((u) => h("li", {}, `${u.display_name} (@${u.handle}) `,
    button("Unfollow", async () => { await api.unfollow(u.id); await refreshHome(); }, { className: "secondary", ariaLabel: `Unfollow ${u.display_name}` })))
    : [h("li", { className: "hint", textContent: "You follow nobody yet." })]));
}

async function createSpace() {
  const when = document.querySelector<HTMLInputElement>("input[name=when]:checked")!.value;
  const body: Record<string, unknown> = {
    title: $<HTMLInputElement>("create-title").value.trim(),
    topics: $<HTMLInputElement>("create-topics").value.split(",").map((t) => t.trim()).filter(Boolean),
  };
  const options = { recording: $<HTMLInputElement>("create-recording").checked, captions: $<HTMLInputElement>("create-captions").checked, clips_enabled: $<HTMLInputElement>("create-clips").checked };
  // only send the wave-2 switches to a server that knows them (or it would refuse the body)
  const known = api.has("GET", "/v1/spaces/{space_id}/replay");
  if (known) Object.assign(body, options);
  if (when !== "now") {
    const start = $<HTMLInputElement>("create-start").value;
    if (!start) throw new ApiError(400, "validation_error", "Choose when the Space starts.");
    body.scheduled_start = new Date(start).toISOString();
  }
  if (when === "ticketed") {
    body.ticket = { price_cents: Math.round(Number($<HTMLInputElement>("create-price").value) * 100), currency: "usd",
      quantity: Number($<HTMLInputElement>("create-quantity").value) };
  }
  const space = await api.create(body);
  if (space.state === "live") await enter(space.id, space.join ?? undefined);
  else { say(`${space.title} is scheduled.`); await refreshHome(); }
}

let payment: MountedPayment | null = null;

async function buyTicket(space: Space) {
  const purchase = await api.buyTicket(space.id);
  if (paymentRoute(api.stage, api.has("POST", "/v1/dev/spaces/{space_id}/tickets/{ticket_id}/pay")) === "dev") {
    // local stage: stripe-mock never pays, so complete it through the real webhook code
    const paid = await api.devPay(purchase.space_id, purchase.ticket_id);
    say(paid.status === "paid" ? `Your ticket to ${space.title} is paid.` : `Your ticket is ${paid.status}.`);
    return;
  }
  // deployed stages: Stripe's Payment Element, with what the purchase answer carries
  payment?.destroy();
  payment = null;
  $("payment-title").textContent = `Pay for ${space.title}: ${(purchase.amount_cents / 100).toFixed(2)} ${purchase.currency.toUpperCase()}`;
  $("payment-view").hidden = false;
  try {
    payment = await mountPaymentElement($("payment-element"), purchase);
  } catch (e) {
    $("payment-view").hidden = true;
    throw new ApiError(0, "stripe", `Could not open the payment form: ${e instanceof Error ? e.message : "unknown error"}.`);
  }
  say("Enter your payment details, then press Pay.");
}

async function confirmPayment() {
  if (!payment) return;
  let status: string;
  try {
    status = await payment.confirm(location.href);
  } catch (e) {
    throw new ApiError(402, "payment", `The payment did not go through: ${e instanceof Error ? e.message : "unknown error"}.`);
  }
  payment.destroy();
  payment = null;
  $("payment-view").hidden = true;
  say(status === "succeeded" ? "Payment received; your ticket becomes paid when Stripe confirms it." : `Your payment is ${status}.`);
}

// -- in a Space ----------------------------------------------------------------------------------
async function enter(spaceId: string, join?: Join) {
  if (current) await leave("");
  const space = await api.space(spaceId);
  const creds = join ?? await api.join(spaceId);
  const ended = (why: "ended" | "removed" | "lost") =>
    void leave(why === "removed" ? "You were removed from this Space." : why === "ended" ? "This Space has ended." : "The connection to this Space was lost.");
  const overHls = creds.transport === "hls" && creds.hls_url;
  const room: SpaceRoom | HlsStage = overHls ? new HlsStage(creds.hls_url!, $("audio-sink"), ended) : new SpaceRoom({
    data: onData,
    caption: onCaption,
    canPublishChanged: (can) => updateControls(can),
    speaking: (ids) => { $("speaking").textContent = ids.length ? `Speaking: ${ids.join(", ")}` : ""; },
    ended,
  }, $("audio-sink"));
  current = { space, join: creds, room, handUp: false, role: creds.role, poll: 0, meter: 0, renew: 0 };
  seen.clear(); captions.clear();
  $("chat-log").replaceChildren();
  $("captions").replaceChildren(h("p", { className: "hint", id: "captions-empty", textContent: "Captions appear here while someone on stage is speaking and captions are on." }));
  $("room-title").textContent = space.title;
  $("room-meta").textContent = `Hosted by ${space.host_id}${space.topics.length ? " · " + space.topics.join(", ") : ""}`;
  $("room-ended").hidden = true;
  $("home-view").hidden = true;
  $("room-view").hidden = false;
  showPinned(space.pinned ?? null);
  say(`Connecting to ${space.title}…`);
  if (room instanceof HlsStage) {
    await room.connect();
    scheduleRenewal(creds);
    say(`You are listening to ${space.title} a few seconds behind the stage: it is full for live audio.`);
  } else {
    await room.connect(creds.livekit_url, creds.token);
    say(`You are in ${space.title} as ${creds.role}.`);
  }
  const chat = api.has("POST", "/v1/spaces/{space_id}/messages");
  $("chat-unavailable").hidden = chat;
  $("chat-form").hidden = !chat;
  if (chat) {
    const history = await api.messages(space.id).catch(() => null);
    for (const m of (history?.items ?? []).slice().reverse()) addMessage(m);
  }
  current.poll = window.setInterval(() => void poll(), room.transport === "hls" ? HLS_POLL_MS : POLL_MS);
  current.meter = window.setInterval(() => { if (current) $<HTMLMeterElement>("level").value = current.room.level(); }, 250);
  await poll();
  $("room-title").focus?.();
}

async function leave(message: string) {
  const c = current;
  if (!c) return;
  current = null;
  window.clearInterval(c.poll);
  window.clearInterval(c.meter);
  window.clearTimeout(c.renew);
  await c.room.leave().catch(() => undefined);
  $("room-view").hidden = true;
  $("home-view").hidden = false;
  if (message) say(message);
  if (message.includes("ended") && api.has("GET", "/v1/spaces/{space_id}/replay")) offerReplay(c.space);
  await run(refreshHome);
}

function roleOf(hostId: string, cohostIds: string[], speakerIds: string[], user: string): string {
  if (hostId === user) return "host";
  if (cohostIds.includes(user)) return "cohost";
  if (speakerIds.includes(user)) return "speaker";
  return "listener";
}

/** Join again a minute before the HLS link expires: a fresh link, or WebRTC if a seat is free. */
function scheduleRenewal(creds: Join) {
  const c = current!;
  c.renew = window.setTimeout(() => void run(async () => {
    if (current !== c || !(c.room instanceof HlsStage)) return;
    const next = await api.join(c.space.id);
    if (current !== c) return;
    if (next.transport === "hls" && next.hls_url) {
      c.room.renew(next.hls_url);
      c.join = next;
      scheduleRenewal(next);
    } else {
      await enter(c.space.id, next);
    }
  }), Math.max(5_000, Date.parse(creds.expires_at) - Date.now() - RENEW_EARLY_MS));
}

/** A listener over HLS has no data channel: the Space itself says who is on stage (on the stage,
 * they join again, over WebRTC) and the chat is read from the API. */
async function pollOverHls(c: NonNullable<typeof current>) {
  const [space, messages] = await Promise.all([api.space(c.space.id),
    api.has("GET", "/v1/spaces/{space_id}/messages") ? api.messages(c.space.id).catch(() => null) : null]);
  if (current !== c) return;
  if (space.state === "ended") { await leave("This Space has ended."); return; }
  c.space = space;
  for (const m of (messages?.items ?? []).slice().reverse()) addMessage(m);
  c.role = roleOf(space.host_id, space.cohost_ids, space.speaker_ids, api.userId);
  $("room-count").textContent = `${space.listener_count} listening · peak ${space.peak_listener_count}`;
  if (c.role !== "listener") { say("You are on stage now: connecting your microphone…"); await run(() => enter(space.id)); return; }
  $("room-role").textContent = "listener";
  updateControls(false);
}

async function poll() {
  const c = current;
  if (!c) return;
  if (c.room.transport === "hls") { await pollOverHls(c).catch(() => undefined); return; }
  let p: Participants;
  try {
    p = await api.participants(c.space.id);
  } catch (e) {
    if (e instanceof ApiError && e.status === 409) return; // ended meanwhile; the room tells us
    return;
  }
  if (current !== c) return;
  if (p.state === "ended") { await leave("This Space has ended."); return; }
  c.role = roleOf(p.host.user_id, p.cohosts.map((x) => x.user_id), p.speakers.map((x) => x.user_id), api.userId);
  $("room-role").textContent = c.role === "cohost" ? "co-host" : c.role;
  $("room-count").textContent = `${p.listener_count} listening · peak ${p.peak_listener_count}`;
  const managing = c.role === "host" || c.role === "cohost";
  $("host-panel").hidden = !managing;
  updateControls(c.room.canPublish);
  const everyone = [p.host, ...p.cohosts, ...p.speakers, ...p.listeners];
  updateRecipients(everyone.map((x) => x.user_id).filter((u) => u !== api.userId));
  if (managing) renderManagement(p, everyone);
}

function updateControls(canPublish: boolean) {
  const c = current;
  if (!c) return;
  const onStage = c.role !== "listener";
  const mic = $<HTMLButtonElement>("mic");
  const wasHidden = mic.hidden;
  mic.hidden = !canPublish;
  if (wasHidden && canPublish && c.role !== "host" && c.role !== "cohost") say("You are a speaker now. Your microphone is off until you turn it on.");
  mic.textContent = c.room.micOn ? "Turn microphone off" : "Turn microphone on";
  mic.setAttribute("aria-pressed", String(c.room.micOn));
  $("hand").hidden = onStage;
  $("hand").textContent = c.handUp ? "Lower hand" : "Raise hand";
  $("hand").setAttribute("aria-pressed", String(c.handUp));
  if (onStage) c.handUp = false;
  $("leave-stage").hidden = c.role !== "speaker";
  $("clip").hidden = !api.has("POST", "/v1/spaces/{space_id}/clips");
}

async function toggleMic() {
  const c = current!;
  await c.room.setMic(!c.room.micOn);
  updateControls(c.room.canPublish);
  say(c.room.micOn ? "Your microphone is on." : "Your microphone is off.");
}

async function toggleHand() {
  const c = current!;
  if (c.handUp) { await api.lowerHand(c.space.id); c.handUp = false; say("You lowered your hand."); }
  else { await api.raiseHand(c.space.id); c.handUp = true; say("You raised your hand. The host will see it."); }
  updateControls(c.room.canPublish);
}

function renderManagement(p: Participants, everyone: Participant[]) {
  const c = current!;
  const id = c.space.id;
  const requests = p.speak_requests ?? [];
  $("requests").replaceChildren(...(requests.length ? requests.map((r) => h("li", {}, `${r.user_id} raised a hand `,
    button(`Approve ${r.user_id}`, async () => { await api.approve(id, r.user_id); say(`${r.user_id} can speak now.`); await poll(); }),
    button(`Deny ${r.user_id}`, async () => { await api.deny(id, r.user_id); await poll(); }, { className: "secondary" })))
    : [h("li", { className: "hint", textContent: "No raised hands." })]));
  const moderation = api.has("PUT", "/v1/spaces/{space_id}/chat-mutes/{user_id}");
  const blocks = api.has("PUT", "/v1/me/blocks/{user_id}");
  $("people").replaceChildren(...everyone.filter((x) => x.user_id !== api.userId).map((x) => {
    const li = h("li", {}, `${x.user_id} · ${x.role}${x.muted ? " · muted" : ""} `);
    const u = x.user_id;
    if (x.role === "listener") li.append(button(`Make ${u} a speaker`, () => api.setSpeaker(id, u, true)));
    if (x.role === "speaker") li.append(button(`Move ${u} to listeners`, () => api.setSpeaker(id, u, false), { className: "secondary" }));
    if (c.role === "host" && x.role !== "cohost") li.append(button(`Make ${u} a co-host`, () => api.setCohost(id, u, true), { className: "secondary" }));
    if (c.role === "host" && x.role === "cohost") li.append(button(`Remove ${u} as co-host`, () => api.setCohost(id, u, false), { className: "secondary" }));
    if (x.role !== "listener") li.append(button(`Mute ${u}`, () => api.mute(id, u), { className: "secondary" }));
    if (moderation) li.append(button(`Mute ${u} in chat`, async () => { await api.chatMute(id, u, true); say(`${u} is muted in chat.`); }, { className: "secondary" }));
    li.append(button(`Remove ${u}`, async () => { await api.remove(id, u); say(`${u} was removed and cannot rejoin.`); }, { className: "secondary" }));
    if (blocks) li.append(button(`Block ${u}`, async () => { await api.block(u); say(`You blocked ${u}.`); }, { className: "secondary" }));
    return li;
  }));
  const pins = api.has("PUT", "/v1/spaces/{space_id}/pin");
  $("pin-unavailable").hidden = pins;
  for (const el of $("pin-form").querySelectorAll<HTMLInputElement | HTMLButtonElement>("input, button")) el.disabled = !pins;
  const toggles = api.has("GET", "/v1/spaces/{space_id}/replay");
  $("toggles-unavailable").hidden = toggles;
  for (const [box, on] of [["toggle-recording", c.space.recording], ["toggle-captions", c.space.captions], ["toggle-clips", c.space.clips_enabled]] as const) {
    const el = $<HTMLInputElement>(box);
    el.disabled = !toggles;
    el.checked = Boolean(on);
  }
}

function updateRecipients(users: string[]) {
  const select = $<HTMLSelectElement>("chat-to");
  const chosen = select.value;
  const have = [...select.options].map((o) => o.value).slice(1).join(",");
  if (have === users.join(",")) return;
  select.replaceChildren(h("option", { value: "", textContent: "Everyone" }),
    ...users.map((u) => h("option", { value: u, textContent: `${u} (private)` })));
  select.value = users.includes(chosen) ? chosen : "";
}

// -- replay of an ended Space (HLS: hls.js, or the browser's own player without MSE) ----------------
let replayPlayer: { destroy(): void } | null = null;

function offerReplay(space: Space) {
  $("ended-section").hidden = false;
  $("ended-list").prepend(h("li", {}, h("h4", { textContent: `${space.title} (ended)` }),
    button(`Replay ${space.title}`, () => playReplay(space))));
}

async function playReplay(space: Space) {
  const replay = await api.replay(space.id);
  $("home-view").hidden = true;
  $("replay-view").hidden = false;
  $("replay-title").textContent = `Replay: ${space.title}`;
  const audio = $<HTMLAudioElement>("replay-audio");
  const state = $("replay-state");
  if (replay.state !== "available" || !replay.playback_url) {
    state.textContent = replay.state === "processing" ? "The replay is still being made; try again in a minute." : "This replay is not available.";
    return;
  }
  state.textContent = replay.duration_seconds ? `${Math.round(replay.duration_seconds / 60)} minutes.` : "";
  for (const [id, url] of [["replay-download", replay.download_url], ["replay-transcript", replay.transcript_url]] as const) {
    const a = $<HTMLAnchorElement>(id);
    a.hidden = !url;
    if (url) a.href = url;
  }
  replayPlayer?.destroy();
  replayPlayer = null;
  try {
    replayPlayer = await attachHls(audio, replay.playback_url);
  } catch {
    throw new ApiError(0, "hls", "This browser cannot play the replay.");
  }
  await audio.play().catch(() => undefined);
}

// -- chat, reactions, pins, captions --------------------------------------------------------------
async function sendChat() {
  const c = current!;
  const input = $<HTMLInputElement>("chat-text");
  const to = $<HTMLSelectElement>("chat-to").value || null;
  const message = await api.send(c.space.id, input.value, to);
  input.value = "";
  addMessage(message);
}

function addMessage(m: Message) {
  if (seen.has(m.id)) return;
  seen.add(m.id);
  const who = m.from_user_id === api.userId ? "You" : m.from_user_id;
  const privately = m.to_user_id ? (m.from_user_id === api.userId ? ` (privately to ${m.to_user_id})` : " (privately)") : "";
  const li = h("li", { id: `msg-${m.id}`, className: m.to_user_id ? "private" : "" },
    h("span", { className: "who", textContent: `${who}${privately}:` }), m.text);
  const c = current;
  if (c && (m.from_user_id === api.userId || c.role === "host" || c.role === "cohost")) {
    li.append(" ", button("Delete", () => api.deleteMessage(m.space_id, m.id), { className: "secondary", ariaLabel: `Delete message from ${who}` }));
  }
  const log = $("chat-log");
  log.append(li);
  log.scrollTop = log.scrollHeight;
}

function showPinned(pinned: Space["pinned"]) {
  const box = $("pinned");
  box.hidden = !pinned;
  box.replaceChildren();
  if (!pinned) return;
  box.append(h("strong", { textContent: "Pinned: " }), pinned.text ?? "");
  if (pinned.url) box.append(" ", h("a", { href: pinned.url, textContent: pinned.url, target: "_blank", rel: "noopener" }));
}

function onData(topic: string, data: unknown) {
  const d = data as Record<string, unknown>;
  switch (topic) {
    case "airwaves.chat":
      if (typeof d.deleted === "string") document.getElementById(`msg-${d.deleted}`)?.remove();
      else if (typeof d.id === "string") addMessage(d as unknown as Message);
      break;
    case "airwaves.reactions": {
      const feed = $("reaction-feed");
      feed.append(h("li", { textContent: `${String(d.emoji)} ${d.user_id === api.userId ? "you" : String(d.user_id)}` }));
      while (feed.children.length > 8) feed.firstElementChild?.remove();
      break;
    }
    case "airwaves.speak_requests":
      if (d.type === "speak_request_denied" && current) { current.handUp = false; say("The host declined your request to speak."); }
      void poll();
      break;
    case "airwaves.pin":
      showPinned((d.pinned ?? (d.text || d.url ? d : null)) as Space["pinned"]);
      break;
  }
}

function onCaption(c: Caption) {
  document.getElementById("captions-empty")?.remove();
  let line = captions.get(c.id);
  if (!line) {
    line = h("p");
    captions.set(c.id, line);
    $("captions").append(line);
  }
  line.textContent = `${c.speaker}: ${c.text}`;
  $("captions").scrollTop = $("captions").scrollHeight;
}

void boot();
