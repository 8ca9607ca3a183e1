// The microphone for Pipecat's SmallWebRTC transport, from plain getUserMedia. The transport's default
// media manager drives devices through Daily's call object, which downloads its bundle from Daily's CDN
// when the page connects; this page never loads anything from the internet.
import { WavMediaManager } from "@pipecat-ai/small-webrtc-transport";

// transport-lib's MediaManager base class, which the package does not export by name.
const MediaManager = Object.getPrototypeOf(WavMediaManager);
const LOCAL = { id: "local", name: "You", local: true };

export class LocalMediaManager extends MediaManager {
  constructor() {
    super();
    this._stream = null;
    this._mic = {};
    this.onTrackReplaced = null; // set by the page: hands a new microphone track to the transport
  }

  async initialize() {
    await this._open(this._mic.deviceId);
    this._callbacks.onAvailableMicsUpdated?.(await this.getAllMics());
  }

  async connect() {}

  async disconnect() {
    this._stream?.getTracks().forEach((t) => t.stop());
    this._stream = null;
  }

  async _open(deviceId) {
    const stream = await navigator.mediaDevices.getUserMedia({
      audio: {
        deviceId: deviceId ? { exact: deviceId } : undefined,
        echoCancellation: true,
        noiseSuppression: true,
        autoGainControl: true,
      },
    });
    const previous = this._stream;
    this._stream = stream;
    const track = stream.getAudioTracks()[0];
    track.enabled = this._micEnabled;
    const id = track.getSettings().deviceId;
    this._mic = (await this.getAllMics()).find((d) => d.deviceId === id) || { deviceId: id };
    this._callbacks.onMicUpdated?.(this._mic);
    this._callbacks.onTrackStarted?.(track, LOCAL);
    previous?.getTracks().forEach((t) => t.stop());
    return track;
  }

  async getAllMics() {
    return (await navigator.mediaDevices.enumerateDevices()).filter((d) => d.kind === "audioinput");
  }

  async getAllCams() { return []; }

  async getAllSpeakers() {
    return (await navigator.mediaDevices.enumerateDevices()).filter((d) => d.kind === "audiooutput");
  }

  async updateMic(micId) {
    const track = await this._open(micId);
    await this.onTrackReplaced?.(track);
  }

  updateCam() {}
  updateSpeaker() {}
  get selectedMic() { return this._mic; }
  get selectedCam() { return {}; }
  get selectedSpeaker() { return {}; }

  enableMic(enable) {
    this._micEnabled = enable;
    this._stream?.getAudioTracks().forEach((t) => (t.enabled = enable));
  }

  enableCam() {}
  enableScreenShare() {}
  get isCamEnabled() { return false; }
  get isMicEnabled() { return this._micEnabled; }
  get isSharingScreen() { return false; }

  tracks() {
    return { local: { audio: this._stream?.getAudioTracks()[0] } };
  }
}
