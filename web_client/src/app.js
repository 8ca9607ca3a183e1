// The voice agent page, on Pipecat's client SDK (@pipecat-ai/client-js with its SmallWebRTC transport).
// Built into assets/app.js by `npm run build` (esbuild); the bundle is committed, so the agent serves
// it without Node. Latencies are measured here, in the browser, from audio levels: what the user hears,
// not what the server thinks.
import { PipecatClient } from "@pipecat-ai/client-js";
import { SmallWebRTCTransport } from "@pipecat-ai/small-webrtc-transport";
import { LocalMediaManager } from "./local_media.js";
import { applyStatic, emotionLabel, language, setLanguage, t } from "./i18n.js";

const $ = (id) => document.getElementById(id);
const SPEECH_LEVEL = 0.02; // RMS of [-1, 1] samples above which a 20 ms window counts as speech
const QUIET_HOLD_MS = 150; // bot audio this long below the level counts as a pause
const STOPPED_MS = 400; // ...and this long as stopped (longer than a pause between clauses)

const ui = (window.agentUi = { state: "idle", metrics: { v2v: [], ttfa: [], bargein: [] }, turns: [], events: [] });
let client = null, meterTimer = null, audioCtx = null;
let botLine = null; // the bot line words are added to; a new reply or the user's turn starts another
const CJK = /[\u3000-\u303f\u3400-\u9fff\uff00-\uffef]/;

let stateDetail = "";

function setState(state, detail = "") {
  ui.state = state;
  stateDetail = detail;
  $("state").className = `state ${state}`;
  $("state").textContent = detail ? `${t(`state.${state}`)}: ${t(detail)}` : t(`state.${state}`);
  $("connect").textContent = t(state === "connected" || state === "connecting" ? "disconnect" : "connect");
  for (const id of ["mute", "speak"]) $(id).disabled = state !== "connected";
}

function addLine(who, text) {
  const li = document.createElement("li");
  li.className = who;
  li.textContent = text;
  $("transcript").append(li);
  li.scrollIntoView({ block: "nearest" });
  return li;
}

async function request(type, data) {
  try {
    return await client.sendClientRequest(type, data, 10000);
  } catch (e) {
    throw new Error(e?.data?.error || e?.message || String(e));
  }
}

// A word as it is played: Chinese characters carry no spaces between them, other words do.
function appendWord(line, word) {
  const before = line.textContent;
  const glue = !before || CJK.test(before.at(-1)) || CJK.test(word[0]) ? "" : " ";
  line.textContent = before + glue + word.trim();
}

let activeEmotion = null;

function showEmotion(info, source) {
  activeEmotion = { info, source };
  $("active-emotion").textContent = emotionLabel(info.label);
  $("emotion-source").textContent = source === "inline" || source === "speak" ? t(`source.${source}`) : "";
  ui.events.push({ type: "emotion", label: info.label, source });
}

// Pipecat's RTVI events, as the SDK delivers them.
const callbacks = {
  onBotReady: () => {
    setState("connected");
    request("get-emotion", {}).then((r) => showEmotion(r, "settings")).catch(() => {});
  },
  onUserTranscript: (d) => {
    if (d.final !== false && d.text) { addLine("user", d.text.trim()); botLine = null; }
  },
  // The bot's line shows what was said, not what the LLM wrote: each word arrives as its audio
  // plays (Pipecat releases it then), so a reply cut off shows the words heard, a reply withdrawn
  // before it played shows nothing, and no emotion tag ever reaches it.
  onBotLlmStarted: () => { botLine = null; },
  onBotTtsText: (d) => {
    if (!d.text) return;
    botLine ||= addLine("bot", "");
    appendWord(botLine, d.text);
  },
  onBotStartedSpeaking: () => { ui.events.push({ type: "bot-started-speaking", at: performance.now() }); },
  onServerMessage: (d) => { if (d?.type === "emotion") showEmotion(d, d.source); },
  onMetrics: (d) => noteStages(d),
  onError: (m) => ui.events.push({ type: "error", error: m?.data?.message || m?.data?.error }),
  onTrackStarted: (track, participant) => {
    if (track.kind !== "audio" || participant?.local) return;
    const stream = new MediaStream([track]);
    $("bot-audio").srcObject = stream;
    startMeters(stream);
  },
  onTransportStateChanged: (state) => {
    if (state === "error" && ui.state !== "idle") fail("fail.connection");
  },
  onDisconnected: () => { if (ui.state === "connected") fail("fail.dropped"); },
};

// The SDK has no callback for "bot-interrupted" yet: read it off the transport's messages.
class Transport extends SmallWebRTCTransport {
  handleMessage(message) {
    if (typeof message === "string" && message.includes('"bot-interrupted"')) onInterrupted();
    super.handleMessage(message);
  }
}

function onInterrupted() {
  const line = botLine || $("transcript").querySelector("li.bot:last-child");
  line?.classList.add("interrupted");
  if (line) line.dataset.cut = t("cut");
  botLine = null;
  $("bot-indicator").className = "indicator interrupted";
  $("bot-indicator").textContent = t("bot.interrupted");
  ui.events.push({ type: "interrupted", at: performance.now() });
}

// --- audio levels and latency readouts -----------------------------------------------------
const mic = { speaking: false, lastSpeech: 0, onset: 0 };
const bot = { speaking: false, quietSince: 0, onset: 0 };
let speakRequestedAt = 0, bargeOnset = 0;

function analyser(stream) {
  const node = audioCtx.createAnalyser();
  node.fftSize = 1024;
  audioCtx.createMediaStreamSource(stream).connect(node);
  const buf = new Float32Array(node.fftSize);
  return () => { node.getFloatTimeDomainData(buf); let s = 0; for (const v of buf) s += v * v; return Math.sqrt(s / buf.length); };
}

function record(kind, ms) {
  ui.metrics[kind].push(ms);
  $(kind).textContent = `${Math.round(ms)} ms`;
  if (kind === "v2v") drawTurn(ms);
}

// --- where each turn's time went: Pipecat's own time-to-first-byte metrics (RTVI "metrics") ------
// stt: VAD stop → transcript; llm: first token; tts: first audio; the rest of what the user waited
// (measured here) is the network, the audio buffers and the turn's end-of-speech silence.
const STAGES = [["stt", "STT"], ["llm", "LLM"], ["tts", "TTS"]];
const BAR_FULL_MS = 2500;
let stages = {};

function noteStages(data) {
  for (const { processor, value } of data?.ttfb || []) {
    const stage = STAGES.find(([, marker]) => processor.includes(marker))?.[0];
    if (!stage || !(value > 0)) continue;
    if (stage === "llm") delete stages.tts; // a new answer: its first audio comes next
    if (stage !== "tts" || stages.tts === undefined) stages[stage] = value * 1000;
  }
}

function drawTurn(v2v) {
  const turn = { v2v, ...stages };
  turn.other = Math.max(0, v2v - STAGES.reduce((sum, [stage]) => sum + (turn[stage] || 0), 0));
  ui.turns.push(turn);
  stages = {};
  const li = document.createElement("li");
  li.title = `${Math.round(v2v)} ms: ` +
    [...STAGES, ["other"]].map(([k]) => `${t(k === "other" ? "stage.other.short" : `stage.${k}`)} ${Math.round(turn[k] || 0)} ms`).join(", ");
  for (const stage of ["stt", "llm", "tts", "other"]) {
    const span = document.createElement("span");
    span.className = stage;
    span.style.width = `${Math.min(100, ((turn[stage] || 0) / BAR_FULL_MS) * 100)}%`;
    li.append(span);
  }
  $("turn-bars").append(li);
  while ($("turn-bars").children.length > 8) $("turn-bars").firstElementChild.remove();
}

function startMeters(remoteStream) {
  // The microphone track the SDK sends, as sent.
  const local = client?.tracks().local.audio;
  const micLevel = local ? analyser(new MediaStream([local])) : () => 0;
  const botLevel = analyser(remoteStream);
  meterTimer = setInterval(() => {
    const now = performance.now(), m = micLevel(), b = botLevel();
    $("bot-level").style.width = `${Math.min(100, b * 400)}%`;
    ui.levels = { mic: m, bot: b };
    if (m > SPEECH_LEVEL && !$("mute").ariaPressed?.startsWith("t")) {
      // Talking over the bot includes starting in a pause between its clauses.
      const botTalking = bot.speaking || (bot.quietSince && now - bot.quietSince < STOPPED_MS);
      if (!mic.speaking) { mic.onset = now; stages = {}; if (botTalking) bargeOnset = now; }
      mic.speaking = true; mic.lastSpeech = now;
    } else if (now - mic.lastSpeech > 300) mic.speaking = false;
    if (b > SPEECH_LEVEL) {
      if (!bot.speaking) {
        bot.onset = now;
        if (speakRequestedAt) { record("ttfa", now - speakRequestedAt); speakRequestedAt = 0; }
        // A reply: the bot was quiet for the user's whole utterance, which has ended.
        else if (mic.lastSpeech && bot.quietSince && bot.quietSince <= mic.onset && !mic.speaking)
          record("v2v", now - mic.lastSpeech);
        $("bot-indicator").className = "indicator speaking";
        $("bot-indicator").textContent = t("bot.speaking");
      }
      bot.speaking = true; bot.quietSince = 0;
    } else {
      bot.quietSince ||= now;
      if (bargeOnset && now - bot.quietSince > STOPPED_MS) {
        record("bargein", Math.max(0, bot.quietSince - bargeOnset));
        bargeOnset = 0;
      }
      if (bot.speaking && now - bot.quietSince > QUIET_HOLD_MS) {
        bot.speaking = false;
        if (!$("bot-indicator").classList.contains("interrupted")) {
          $("bot-indicator").className = "indicator";
          $("bot-indicator").textContent = t("bot.quiet");
        }
      }
    }
  }, 20);
}

// --- connection --------------------------------------------------------------------------------
async function connect() {
  setState("connecting");
  $("mic-error").hidden = true;
  const deviceId = $("mic").value;
  try {
    // Ask first, to explain a refusal in words; the SDK then opens the microphone it sends.
    const probe = await navigator.mediaDevices.getUserMedia({ audio: true });
    probe.getTracks().forEach((t) => t.stop());
  } catch (e) {
    const denied = e.name === "NotAllowedError" || e.name === "SecurityError";
    $("mic-error").textContent = denied ? t("mic.denied") : `${t("mic.none")} (${e.name}: ${e.message}).`;
    $("mic-error").hidden = false;
    setState("failed", denied ? "fail.blocked" : "fail.nomic");
    return;
  }
  audioCtx = new AudioContext();
  const media = new LocalMediaManager();
  const transport = new Transport({ webrtcRequestParams: { endpoint: "/api/offer" }, mediaManager: media });
  media.onTrackReplaced = (track) => transport.getAudioTransceiver()?.sender.replaceTrack(track);
  client = new PipecatClient({
    transport,
    enableMic: true,
    enableCam: false,
    callbacks,
  });
  try {
    await client.initDevices();
    if (deviceId) await client.updateMic(deviceId);
    await listMics();
    await client.connect();
  } catch (e) {
    fail(e?.message || String(e));
  }
}

function fail(reason) { disconnect(false); setState("failed", reason); }

function disconnect(polite = true) {
  clearInterval(meterTimer);
  if (client) {
    if (polite && client.connected) client.disconnectBot();
    client.disconnect();
  }
  if (audioCtx) audioCtx.close();
  client = audioCtx = null;
  setState("idle");
}

async function listMics() {
  const mics = await client.getAllMics();
  const select = $("mic"), current = select.value;
  select.replaceChildren(new Option(t("default"), ""));
  for (const d of mics) select.append(new Option(d.label || d.deviceId, d.deviceId));
  select.value = current;
}

// --- controls ----------------------------------------------------------------------------------
$("connect").onclick = () => (ui.state === "connected" || ui.state === "connecting" ? disconnect() : connect());
$("mute").onclick = () => {
  const muted = $("mute").getAttribute("aria-pressed") !== "true";
  client?.enableMic(!muted);
  $("mute").setAttribute("aria-pressed", String(muted));
  $("mute").textContent = t(muted ? "unmute" : "mute");
};
$("volume").oninput = () => ($("bot-audio").volume = Number($("volume").value));
$("intensity").oninput = () => ($("intensity-value").textContent = Number($("intensity").value).toFixed(2));

async function applyEmotion() {
  if (ui.state !== "connected") return;
  try {
    const reply = await request("set-emotion", { preset: $("emotion").value, intensity: Number($("intensity").value) });
    showEmotion(reply, "settings");
  } catch (e) { ui.events.push({ type: "error", error: e.message }); }
}
$("emotion").onchange = applyEmotion;
$("intensity").onchange = applyEmotion;
$("llm-emotion").onchange = async () => {
  if (ui.state !== "connected") return;
  const reply = await request("set-emotion", { allow_llm: $("llm-emotion").checked });
  ui.events.push({ type: "allow_llm", value: reply.allow_llm });
};
$("speak-form").onsubmit = async (event) => {
  event.preventDefault();
  const text = $("speak-text").value.trim();
  if (!text) return;
  speakRequestedAt = performance.now();
  try {
    await request("speak", { text });
    $("speak-text").value = "";
    botLine = null; // the typed text is a line of its own, shown as it is spoken
  } catch (e) { speakRequestedAt = 0; ui.events.push({ type: "error", error: e.message }); }
};
// The page in its user's language; the switch re-labels everything, the state included.
$("lang").value = language;
$("lang").onchange = () => {
  setLanguage($("lang").value);
  setState(ui.state, stateDetail);
  if (activeEmotion) showEmotion(activeEmotion.info, activeEmotion.source);
  $("mute").textContent = t($("mute").ariaPressed === "true" ? "unmute" : "mute");
  const indicator = $("bot-indicator").className;
  $("bot-indicator").textContent = t(indicator.includes("speaking") ? "bot.speaking" : indicator.includes("interrupted") ? "bot.interrupted" : "bot.quiet");
};
applyStatic();
setState("idle");
