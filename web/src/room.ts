// One LiveKit connection to a Space: plays what the stage says, measures it (a WebAudio analyser
// per remote track, which the level meter and the browser tests read), turns the microphone on
// and off, and hands data messages and live captions to the page. ``StageListener`` is what the
// page holds of a Space it is in, this or the HLS player of ``hls.ts``.
import {
  DisconnectReason,
  type Participant,
  type RemoteTrack,
  Room,
  RoomEvent,
  Track,
} from "livekit-client";

export interface Caption { speaker: string; id: string; text: string; final: boolean }

export interface RoomHandlers {
  data(topic: string, message: unknown, from: string | undefined): void;
  caption(caption: Caption): void;
  canPublishChanged(canPublish: boolean): void;
  speaking(identities: string[]): void;
  ended(reason: "ended" | "removed" | "lost"): void;
}

/** What the page holds of the Space it is in, whichever way the stage reaches it. */
export interface StageListener {
  readonly transport: "webrtc" | "hls";
  readonly canPublish: boolean;
  readonly micOn: boolean;
  setMic(on: boolean): Promise<void>;
  leave(): Promise<void>;
  peakHz(): number | null;
  level(): number;
}

/** WebAudio analysers over what the page plays: the level meter, and what the browser tests read. */
export class Meter {
  readonly audio = new AudioContext();
  private analysers = new Map<string, AnalyserNode>();

  /** Measure ``source`` as ``key`` (and play it, when it is not already heard elsewhere). */
  add(key: string, source: AudioNode, { play = false } = {}): void {
    const analyser = this.audio.createAnalyser();
    analyser.fftSize = 8192;
    analyser.smoothingTimeConstant = 0.2;
    source.connect(analyser);
    if (play) source.connect(this.audio.destination);
    this.analysers.set(key, analyser);
  }

  remove(key: string): void { this.analysers.delete(key); }

  async close(): Promise<void> {
    this.analysers.clear();
    await this.audio.close();
  }

  /** The loudest frequency (Hz) in what this page hears right now, or null in silence. */
  peakHz(): number | null {
    let best = -Infinity;
    let hz: number | null = null;
    for (const a of this.analysers.values()) {
      const bins = new Float32Array(a.frequencyBinCount);
      a.getFloatFrequencyData(bins);
      for (let i = 1; i < bins.length; i++) {
        if (bins[i]! > best) { best = bins[i]!; hz = (i * this.audio.sampleRate) / a.fftSize; }
      }
    }
    return best > -70 ? hz : null;
  }

  /** Loudness 0..1 of what this page hears (the level meter). */
  level(): number {
    let peak = 0;
    for (const a of this.analysers.values()) {
      const samples = new Float32Array(a.fftSize);
      a.getFloatTimeDomainData(samples);
      for (const v of samples) peak = Math.max(peak, Math.abs(v));
    }
    return Math.min(1, peak);
  }
}

export class SpaceRoom implements StageListener {
  readonly transport = "webrtc";
  // Opus DTX on (a silent microphone sends a packet every ~400 ms, not every 20 ms: bench_scale
  // measured 2.25x less server CPU for a silent stage) and RED for resilience to packet loss.
  // Two peer connections, not livekit-client's default single one: that one pre-creates three
  // receive-only video sections in its first offer, the audio-only server (no video codec) rejects
  // them, and Chromium's next offer then fails ("Transceiver not found based on m-line index").
  readonly room = new Room({
    adaptiveStream: false, dynacast: false, singlePeerConnection: false, publishDefaults: { dtx: true, red: true },
  });
  private meter = new Meter();
  private elements: HTMLMediaElement[] = [];

  constructor(private handlers: RoomHandlers, private sink: HTMLElement) {
    const r = this.room;
    r.on(RoomEvent.TrackSubscribed, (track) => this.play(track));
    r.on(RoomEvent.TrackUnsubscribed, (track) => this.stopPlaying(track));
    r.on(RoomEvent.DataReceived, (payload, participant, _kind, topic) => {
      if (!topic) return;
      try {
        handlers.data(topic, JSON.parse(new TextDecoder().decode(payload)), participant?.identity);
      } catch { /* not JSON: not one of ours */ }
    });
    r.on(RoomEvent.ParticipantPermissionsChanged, (_prev, participant) => {
      if (participant === r.localParticipant) handlers.canPublishChanged(this.canPublish);
    });
    r.on(RoomEvent.ActiveSpeakersChanged, (speakers: Participant[]) => handlers.speaking(speakers.map((s) => s.identity)));
    r.on(RoomEvent.TranscriptionReceived, (segments, participant) => {
      for (const s of segments) handlers.caption({ speaker: participant?.identity ?? "", id: s.id, text: s.text, final: s.final });
    });
    r.registerTextStreamHandler("lk.transcription", async (reader, info) => {
      const attrs = reader.info.attributes ?? {};
      const id = attrs["lk.segment_id"] ?? reader.info.id;
      // attributed to the person whose track was transcribed (the sender may be a transcriber)
      const speaker = this.ownerOf(attrs["lk.transcribed_track_id"]) ?? info.identity;
      let text = "";
      for await (const chunk of reader) {
        text += chunk;
        handlers.caption({ speaker, id, text, final: false });
      }
      handlers.caption({ speaker, id, text, final: attrs["lk.transcription_final"] !== "false" });
    });
    r.on(RoomEvent.Disconnected, (reason?: DisconnectReason) => {
      if (reason === DisconnectReason.CLIENT_INITIATED) return;
      const removed = reason === DisconnectReason.PARTICIPANT_REMOVED;
      const ended = reason === DisconnectReason.ROOM_DELETED || reason === DisconnectReason.ROOM_CLOSED;
      handlers.ended(removed ? "removed" : ended ? "ended" : "lost");
    });
  }

  async connect(url: string, token: string): Promise<void> {
    await this.meter.audio.resume();
    await this.room.connect(url, token, { autoSubscribe: true });
    await this.room.startAudio();
    this.handlers.canPublishChanged(this.canPublish);
  }

  get canPublish(): boolean {
    return this.room.localParticipant.permissions?.canPublish ?? false;
  }

  get micOn(): boolean {
    return this.room.localParticipant.isMicrophoneEnabled;
  }

  async setMic(on: boolean): Promise<void> {
    await this.room.localParticipant.setMicrophoneEnabled(on);
  }

  async leave(): Promise<void> {
    await this.room.disconnect();
    for (const el of this.elements) el.remove();
    this.elements = [];
    await this.meter.close();
  }

  peakHz(): number | null { return this.meter.peakHz(); }

  level(): number { return this.meter.level(); }

  private ownerOf(trackSid: string | undefined): string | undefined {
    if (!trackSid) return undefined;
    const local = this.room.localParticipant;
    if (local.trackPublications.has(trackSid)) return local.identity;
    for (const p of this.room.remoteParticipants.values()) {
      if (p.trackPublications.has(trackSid)) return p.identity;
    }
    return undefined;
  }

  private play(track: RemoteTrack): void {
    if (track.kind !== Track.Kind.Audio) return;
    const el = track.attach();
    el.setAttribute("aria-hidden", "true");
    this.sink.appendChild(el);
    this.elements.push(el);
    this.meter.add(track.sid ?? track.mediaStreamTrack.id,
      this.meter.audio.createMediaStreamSource(new MediaStream([track.mediaStreamTrack])));
  }

  private stopPlaying(track: RemoteTrack): void {
    for (const el of track.detach()) el.remove();
    this.meter.remove(track.sid ?? track.mediaStreamTrack.id);
  }
}
