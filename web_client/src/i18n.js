// The page in its user's language: English and Chinese (Simplified), chosen from the browser's
// languages and switchable on the page (remembered in localStorage). Static text carries a
// data-i18n key (data-i18n-placeholder for placeholders); everything else asks t(key).
const STRINGS = {
  en: {
    title: "Voice agent",
    "state.idle": "Not connected", "state.connecting": "Connecting…", "state.connected": "Connected",
    "state.failed": "Failed",
    connect: "Connect", disconnect: "Disconnect", microphone: "Microphone", default: "Default",
    mute: "Mute mic", unmute: "Unmute mic", volume: "Bot volume",
    "bot.quiet": "Bot is quiet", "bot.speaking": "Bot is speaking", "bot.interrupted": "Interrupted",
    v2v: "Voice-to-voice", ttfa: "Time to first audio (speak)", bargein: "Barge-in",
    turns: "Where each turn's time went:", "stage.stt": "STT", "stage.llm": "LLM first token",
    "stage.tts": "TTS first audio", "stage.other": "network, buffers, silence",
    "stage.other.short": "network + buffers",
    emotion: "Emotion", intensity: "Intensity", "llm.choose": "Let the bot choose", active: "Active:",
    "source.inline": "(chosen by the bot)", "source.speak": "(your choice, for that sentence)",
    "speak.label": "Make the bot say", "speak.placeholder": "Type any text…", speak: "Speak",
    transcript: "Transcript", cut: "interrupted", language: "Language",
    "mic.denied": "Microphone access was denied. Allow it in the browser's site settings (the icon left of the address bar) and connect again.",
    "mic.none": "No microphone could be opened",
    "fail.blocked": "microphone blocked", "fail.nomic": "no microphone",
    "fail.connection": "the connection failed", "fail.dropped": "the connection dropped",
    neutral: "neutral", happy: "happy", sad: "sad", angry: "angry", afraid: "afraid",
    disgusted: "disgusted", melancholic: "melancholic", surprised: "surprised", calm: "calm",
    excited: "excited", serious: "serious", lively: "lively",
  },
  zh: {
    title: "语音助手",
    "state.idle": "未连接", "state.connecting": "正在连接…", "state.connected": "已连接",
    "state.failed": "连接失败",
    connect: "连接", disconnect: "断开", microphone: "麦克风", default: "默认",
    mute: "麦克风静音", unmute: "取消静音", volume: "机器人音量",
    "bot.quiet": "机器人安静", "bot.speaking": "机器人正在说话", "bot.interrupted": "已打断",
    v2v: "语音到语音", ttfa: "首段音频时间（朗读）", bargein: "插话响应",
    turns: "每轮耗时分布：", "stage.stt": "语音识别", "stage.llm": "大模型首个词",
    "stage.tts": "语音合成首段音频", "stage.other": "网络、缓冲、静音",
    "stage.other.short": "网络与缓冲",
    emotion: "情绪", intensity: "强度", "llm.choose": "让机器人选择", active: "当前：",
    "source.inline": "（机器人选择）", "source.speak": "（你的选择，仅这一句）",
    "speak.label": "让机器人说", "speak.placeholder": "输入任意文字…", speak: "朗读",
    transcript: "对话记录", cut: "被打断", language: "语言",
    "mic.denied": "麦克风权限被拒绝。请在浏览器的网站设置（地址栏左侧的图标）中允许后重新连接。",
    "mic.none": "无法打开麦克风",
    "fail.blocked": "麦克风被阻止", "fail.nomic": "没有麦克风",
    "fail.connection": "连接失败", "fail.dropped": "连接已断开",
    neutral: "中性", happy: "开心", sad: "悲伤", angry: "生气", afraid: "害怕", disgusted: "厌恶",
    melancholic: "忧郁", surprised: "惊讶", calm: "平静", excited: "兴奋", serious: "严肃",
    lively: "活泼",
  },
};

function preferred() {
  const saved = localStorage.getItem("language");
  if (saved && STRINGS[saved]) return saved;
  const browser = navigator.languages?.length ? navigator.languages : [navigator.language || "en"];
  return browser.some((code) => code.toLowerCase().startsWith("zh")) ? "zh" : "en";
}

export let language = preferred();

export function t(key) {
  return STRINGS[language][key] ?? STRINGS.en[key] ?? key;
}

// An emotion label from the server ("sad@0.7") with its preset named in this language.
export function emotionLabel(label) {
  const [name, intensity] = String(label).split("@");
  return STRINGS.en[name] ? `${t(name)}${intensity ? `@${intensity}` : ""}` : label;
}

export function applyStatic(root = document) {
  document.documentElement.lang = language === "zh" ? "zh-CN" : "en";
  document.title = `pipecat-indextts2 — ${t("title")}`;
  for (const el of root.querySelectorAll("[data-i18n]")) el.textContent = t(el.dataset.i18n);
  for (const el of root.querySelectorAll("[data-i18n-placeholder]")) el.placeholder = t(el.dataset.i18nPlaceholder);
}

export function setLanguage(code) {
  if (!STRINGS[code]) return;
  language = code;
  localStorage.setItem("language", code);
  applyStatic();
}
