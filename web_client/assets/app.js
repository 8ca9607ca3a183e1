// The voice agent page: plain WebRTC + the RTVI message protocol Pipecat's SmallWebRTC transport speaks
// (what @pipecat-ai/client-js does, without a build step). Latencies are measured here, in the browser,
// from audio levels: what the user hears, not what the server thinks.
const $ = (id) => document.getElementById(id);
const SPEECH_LEVEL = 0.02; // RMS of [-1, 1] samples above which a 20 ms window counts as speech
const QUIET_HOLD_MS = 150; // bot audio this long below the level counts as a pause
const STOPPED_MS = 400; // ...and this long as stopped (longer than a pause between clauses)

const ui = (window.agentUi = { state: "idle", metrics: { v2v: [], ttfa: [], bargein: [] }, events: [] });
let pc = null, channel = null, micStream = null, pingTimer = null, meterTimer = null, audioCtx = null;
let pending = new Map();
let botLine = null;
let typedText = "";

function setState(state, detail = "") {
  ui.state = state;
  const labels = { idle: "Not connected", connecting: "Connecting…", connected: "Connected", failed: "Failed" };
  $("state").className = `state ${state}`;
  $("state").textContent = detail ? `${labels[state]}: ${detail}` : labels[state];
  $("connect").textContent = state === "connected" || state === "connecting" ? "Disconnect" : "Connect";
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

function rtvi(type, data, id = Math.random().toString(36).slice(2, 10)) {
  return { label: "rtvi-ai", type, id, data };
}

function send(message) {
  if (channel && channel.readyState === "open") channel.send(JSON.stringify(message));
}

function request(type, data) {
  const message = rtvi("client-message", { t: type, d: data });
  return new Promise((resolve, reject) => {
    pending.set(message.id, { resolve, reject });
    send(message);
    setTimeout(() => pending.has(message.id) && (pending.delete(message.id), reject(new Error("no answer"))), 10000);
  });
}

function showEmotion(info, source) {
  $("active-emotion").textContent = info.label;
  $("emotion-source").textContent = source === "inline" ? "(chosen by the bot)" : "";
  ui.events.push({ type: "emotion", label: info.label, source });
}

function onMessage(event) {
  if (typeof event.data !== "string") return;
  let m;
  try { m = JSON.parse(event.data); } catch { return; }
  const d = m.data || {};
  if (m.type !== "metrics") ui.events.push({ type: m.type, at: performance.now() });
  switch (m.type) {
    case "bot-ready": setState("connected"); request("get-emotion", {}).then((r) => showEmotion(r, "settings")); break;
    case "user-transcription": if (d.final !== false && d.text) addLine("user", d.text.trim()); break;
    case "bot-llm-started": // the reply streams in as the LLM writes it, ahead of its audio
      if (!botLine || botLine.dataset.typed || botLine.dataset.llm) botLine = addLine("bot", "");
      botLine.dataset.llm = "1";
      break;
    case "bot-llm-text":
      if (botLine?.dataset.llm) botLine.textContent += d.text || "";
      break;
    case "bot-tts-text": // a sentence as it is spoken (for speech the LLM did not write)
      if (d.text && !botLine?.dataset.typed && !botLine?.dataset.llm) {
        botLine ||= addLine("bot", "");
        botLine.textContent = `${botLine.textContent} ${d.text}`.trim();
      }
      break;
    case "bot-started-speaking":
      if (!botLine) {
        // Text typed into the box is shown as it starts playing (Pipecat reports it once played).
        botLine = addLine("bot", typedText);
        if (typedText) botLine.dataset.typed = "1";
        typedText = "";
      }
      break;
    case "bot-stopped-speaking": botLine = null; break;
    case "bot-interrupted":
      (botLine || $("transcript").querySelector("li.bot:last-child"))?.classList.add("interrupted");
      botLine = null;
      $("bot-indicator").className = "indicator interrupted";
      $("bot-indicator").textContent = "Interrupted";
      ui.events.push({ type: "interrupted", at: performance.now() });
      break;
    case "server-message": if (d.type === "emotion") showEmotion(d, d.source); break;
    case "server-response": settle(m.id, d.d); break;
    case "error-response": settle(m.id, null, d.error); break;
    case "error": ui.events.push({ type: "error", error: d.error }); break;
  }
}

function settle(id, value, error) {
  const p = pending.get(id);
  if (!p) return;
  pending.delete(id);
  error ? p.reject(new Error(error)) : p.resolve(value);
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
}

function startMeters(remoteStream) {
  const micLevel = analyser(micStream), botLevel = analyser(remoteStream);
  meterTimer = setInterval(() => {
    const now = performance.now(), m = micLevel(), b = botLevel();
    $("bot-level").style.width = `${Math.min(100, b * 400)}%`;
    ui.levels = { mic: m, bot: b };
    if (m > SPEECH_LEVEL && !$("mute").ariaPressed?.startsWith("t")) {
      // Talking over the bot includes starting in a pause between its clauses.
      const botTalking = bot.speaking || (bot.quietSince && now - bot.quietSince < STOPPED_MS);
      if (!mic.speaking) { mic.onset = now; if (botTalking) bargeOnset = now; }
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
        $("bot-indicator").textContent = "Bot is speaking";
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
          $("bot-indicator").textContent = "Bot is quiet";
        }
      }
    }
  }, 20);
}

// --- connection --------------------------------------------------------------------------------
async function connect() {
  setState("connecting");
  $("mic-error").hidden = true;
  try {
    const deviceId = $("mic").value;
    micStream = await navigator.mediaDevices.getUserMedia({
      audio: { deviceId: deviceId ? { exact: deviceId } : undefined, echoCancellation: true, noiseSuppression: true },
    });
  } catch (e) {
    const denied = e.name === "NotAllowedError" || e.name === "SecurityError";
    $("mic-error").textContent = denied
      ? "Microphone access was denied. Allow it in the browser's site settings (the icon left of the address bar) and connect again."
      : `No microphone could be opened (${e.name}: ${e.message}).`;
    $("mic-error").hidden = false;
    setState("failed", denied ? "microphone blocked" : "no microphone");
    return;
  }
  await listMics();
  audioCtx = new AudioContext();
  pc = new RTCPeerConnection();
  pc.addTransceiver(micStream.getAudioTracks()[0], { direction: "sendrecv" });
  channel = pc.createDataChannel("rtvi");
  channel.onopen = () => { send(rtvi("client-ready", { version: "1.0.0", about: { library: "pipecat-indextts2-web" } })); pingTimer = setInterval(() => channel.readyState === "open" && channel.send(`ping: ${Date.now()}`), 1000); };
  channel.onmessage = onMessage;
  pc.ontrack = (event) => {
    const stream = event.streams[0] || new MediaStream([event.track]);
    $("bot-audio").srcObject = stream;
    startMeters(stream);
  };
  pc.onconnectionstatechange = () => {
    if (pc && pc.connectionState === "failed") fail("the network connection failed (ICE)");
    if (pc && pc.connectionState === "disconnected") fail("the connection dropped");
  };
  try {
    await pc.setLocalDescription(await pc.createOffer());
    await new Promise((resolve) => {
      if (pc.iceGatheringState === "complete") return resolve();
      pc.addEventListener("icegatheringstatechange", () => pc.iceGatheringState === "complete" && resolve());
      setTimeout(resolve, 2000);
    });
    const response = await fetch("/api/offer", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ sdp: pc.localDescription.sdp, type: "offer" }),
    });
    const body = await response.json();
    if (!response.ok) throw new Error(body.error || body.detail || `HTTP ${response.status}`);
    await pc.setRemoteDescription(body);
  } catch (e) {
    fail(e.message);
  }
}

function fail(reason) { disconnect(false); setState("failed", reason); }

function disconnect(polite = true) {
  if (polite) send(rtvi("disconnect-bot", null));
  clearInterval(pingTimer); clearInterval(meterTimer);
  if (pc) pc.close();
  if (micStream) micStream.getTracks().forEach((t) => t.stop());
  if (audioCtx) audioCtx.close();
  pc = channel = micStream = audioCtx = null;
  setState("idle");
}

async function listMics() {
  const devices = await navigator.mediaDevices.enumerateDevices();
  const select = $("mic"), current = select.value;
  select.replaceChildren(new Option("Default", ""));
  for (const d of devices.filter((d) => d.kind === "audioinput")) select.append(new Option(d.label || d.deviceId, d.deviceId));
  select.value = current;
}

// --- controls ----------------------------------------------------------------------------------
$("connect").onclick = () => (ui.state === "connected" || ui.state === "connecting" ? disconnect() : connect());
$("mute").onclick = () => {
  const muted = $("mute").getAttribute("aria-pressed") !== "true";
  micStream?.getAudioTracks().forEach((t) => (t.enabled = !muted));
  $("mute").setAttribute("aria-pressed", String(muted));
  $("mute").textContent = muted ? "Unmute mic" : "Mute mic";
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
  typedText = text;
  try {
    await request("speak", { text });
    $("speak-text").value = "";
  } catch (e) { speakRequestedAt = 0; typedText = ""; ui.events.push({ type: "error", error: e.message }); }
};
setState("idle");
