// The live stage over HLS, for a listener past the Space's WebRTC cap (their join answered
// `transport: "hls"`): hls.js (a split chunk, loaded only then) plays the API's live playlist, or
// the browser itself where it plays HLS natively, measured like a WebRTC room. The link expires:
// the page hands a fresh one to `renew`, and hls.js's later playlist reloads use it, with no gap.
import { Meter, type StageListener } from "./room";

const LIVE_PLAYLIST = /\/live\.m3u8(\?|$)/;

/** Play an HLS playlist in ``element``: hls.js where Media Source Extensions exist (the same
 * player everywhere; Chromium's own HLS refuses a live playlist that has no segments yet), else
 * the browser's native HLS (older iOS). Answers the hls.js player to destroy, or null. */
export async function attachHls(element: HTMLMediaElement, url: string,
  { xhrSetup, fatal }: { xhrSetup?: (xhr: XMLHttpRequest, url: string) => void; fatal?: () => void } = {},
): Promise<{ destroy(): void } | null> {
  const { default: Hls } = await import("hls.js");
  if (!Hls.isSupported()) {
    if (!element.canPlayType("application/vnd.apple.mpegurl")) throw new Error("this browser cannot play HLS");
    element.src = url;
    return null;
  }
  const hls = new Hls(xhrSetup ? { xhrSetup } : {});
  if (fatal) hls.on(Hls.Events.ERROR, (_event, data) => { if (data.fatal) fatal(); });
  hls.loadSource(url);
  hls.attachMedia(element);
  return hls;
}

export class HlsStage implements StageListener {
  readonly transport = "hls";
  readonly canPublish = false;
  readonly micOn = false;
  private meter = new Meter();
  private element = document.createElement("audio");
  private player: { destroy(): void } | null = null;

  constructor(private url: string, sink: HTMLElement, private ended: (reason: "ended" | "lost") => void) {
    this.element.setAttribute("aria-hidden", "true");
    sink.appendChild(this.element);
    this.element.addEventListener("ended", () => this.ended("ended")); // the playlist's EXT-X-ENDLIST
  }

  async connect(): Promise<void> {
    await this.meter.audio.resume();
    // played through WebAudio, so it is measured and heard (a media element source reroutes it)
    this.meter.add("hls", this.meter.audio.createMediaElementSource(this.element), { play: true });
    this.player = await attachHls(this.element, this.url, {
      // every reload of the live playlist asks with the newest link (segments are presigned)
      xhrSetup: (xhr, url) => { if (LIVE_PLAYLIST.test(url)) xhr.open("GET", this.url, true); },
      fatal: () => this.ended("lost"),
    });
    await this.element.play();
  }

  /** A fresh link from joining again (the old one expires at its `expires_at`). */
  renew(url: string): void {
    this.url = url;
    if (!this.player) this.element.src = url; // native playback reloads from the new link
  }

  async setMic(): Promise<void> {
    throw new Error("listening over HLS: join again once on stage");
  }

  async leave(): Promise<void> {
    this.player?.destroy();
    this.player = null;
    this.element.pause();
    this.element.remove();
    await this.meter.close();
  }

  peakHz(): number | null { return this.meter.peakHz(); }

  level(): number { return this.meter.level(); }

  /** Where playback is, for the page's tests: seconds played and whether it is playing. */
  playback(): { currentTime: number; paused: boolean; readyState: number } {
    return { currentTime: this.element.currentTime, paused: this.element.paused, readyState: this.element.readyState };
  }
}
