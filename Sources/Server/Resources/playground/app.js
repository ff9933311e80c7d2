"use strict";
// The playground: upload → POST /api/v2/jobs → follow /events → play the output.
const $ = (id) => document.getElementById(id);
const fields = ["file", "word", "tts_lang", "tts_engine", "voice_mode"];
let recorded = null; // a Blob from the camera, used when no file is chosen

function fill(select, values, preferred) {
  select.replaceChildren(...values.map((value) => new Option(value, value)));
  if (preferred && values.includes(preferred)) select.value = preferred;
}

function clearErrors() {
  for (const name of fields.concat("form")) $(name + "-error").textContent = "";
}

// An API error shown next to the field it names (else under the form).
function showError(error, fallbackField) {
  const field = error && error.field && $(error.field + "-error") ? error.field : fallbackField || "form";
  $(field + "-error").textContent = (error && error.message) || "the request failed";
  const input = $(field);
  if (input && input.focus) input.focus();
}

async function api(method, path, body, headers) {
  const response = await fetch(path, { method, body, headers });
  let json = {};
  try { json = await response.json(); } catch (_) { /* not JSON */ }
  return { ok: response.ok, status: response.status, json };
}

async function loadCapabilities() {
  const { json } = await api("GET", "/api/v2/capabilities");
  const languages = json.languages || [];
  fill($("tts_lang"), languages, languages.includes("ko") ? "ko" : "en");
  fill($("tts_engine"), json.tts_engines || [], json.default_tts_engine);
  fill($("voice_mode"), json.voice_modes || []);
  fill($("tracking"), json.tracking || []);
  fill($("composite"), json.composite || []);
  if ((json.standin_models || []).length > 0) {
    const warning = $("standin-warning");
    warning.textContent = "Stand-in models with random weights are served (" + json.standin_models.join(", ") +
      "): the output is NOT a real lip-sync. Install the converted checkpoints for real results.";
    warning.hidden = false;
  }
}

// The model report (GET /api/v1/models): kind, file, precision, and which are stand-ins.
async function loadModels() {
  const { json } = await api("GET", "/api/v1/models");
  $("models").replaceChildren(...(json.models || []).map((model) => {
    const item = document.createElement("li");
    item.textContent = model.kind + ": " + model.file + " (" + model.precision + ")" +
      (model.standin ? " — STAND-IN, random weights" : "");
    return item;
  }));
}

function setupCamera() {
  if (!(navigator.mediaDevices && window.MediaRecorder)) return;
  $("camera").hidden = false;
  $("record").addEventListener("click", async () => {
    try {
      const stream = await navigator.mediaDevices.getUserMedia({ video: true, audio: true });
      const preview = $("preview");
      preview.srcObject = stream; preview.hidden = false; await preview.play();
      const recorder = new MediaRecorder(stream);
      const chunks = [];
      recorder.ondataavailable = (event) => chunks.push(event.data);
      recorder.onstop = () => {
        stream.getTracks().forEach((track) => track.stop());
        recorded = new Blob(chunks, { type: recorder.mimeType || "video/webm" });
        preview.hidden = true;
        $("record").textContent = "Recorded — record again";
      };
      recorder.start();
      setTimeout(() => recorder.stop(), 5000);
    } catch (error) {
      $("file-error").textContent = "The camera is not available: " + error.message;
    }
  });
}

// The job's steps in order (the timing table's names); the current one is marked, the ones
// before it done (a fast step may finish between two events).
const STEPS = ["fetch_input", "text_to_speech", "voice_conversion", "lip-sync_render", "store_output"];

function showSteps() {
  $("steps").replaceChildren(...STEPS.map((name) => {
    const item = document.createElement("li");
    item.dataset.step = name;
    item.textContent = name.replaceAll("_", " ");
    return item;
  }));
}

function reachStep(name, finished) {
  const index = finished ? STEPS.length : STEPS.indexOf(name);
  if (index < 0) return;
  STEPS.forEach((step, position) => {
    const item = document.querySelector('#steps li[data-step="' + step + '"]');
    item.classList.toggle("done", position < index);
    if (position === index) item.setAttribute("aria-current", "step"); else item.removeAttribute("aria-current");
  });
}

function showTimings(timings) {
  const rows = Object.entries(timings || {}).filter(([key]) => key !== "total");
  const longest = Math.max(0.001, ...rows.map(([, seconds]) => seconds));
  $("timings").replaceChildren(...rows.map(([key, seconds]) => {
    const row = document.createElement("div");
    row.className = "row"; row.setAttribute("role", "listitem");
    const label = document.createElement("span"); label.textContent = key.replaceAll("_", " ");
    const bar = document.createElement("div"); bar.className = "bar"; bar.style.width = (100 * seconds / longest) + "%";
    const value = document.createElement("span"); value.className = "seconds"; value.textContent = seconds.toFixed(3) + " s";
    row.append(label, bar, value);
    return row;
  }));
}

function follow(id) {
  $("progress-panel").hidden = false;
  showSteps();
  const events = new EventSource("/api/v2/jobs/" + id + "/events");
  const update = (message) => {
    const job = JSON.parse(message.data);
    const progress = job.progress || {};
    $("progress").value = progress.fraction || 0;
    if (progress.step) reachStep(progress.step, false);
    const running = job.status === "running" && progress.step ? " — " + progress.step.replaceAll("_", " ") : "";
    $("status").textContent = job.status + running + " (" + Math.round(100 * (progress.fraction || 0)) + " %)";
    if (job.status === "succeeded") {
      reachStep(null, true);
      events.close();
      const url = "/api/v2/jobs/" + id + "/output";
      $("result").src = url; $("download").href = url;
      $("result-panel").hidden = false;
      showTimings(job.result && job.result.timings);
      $("submit").disabled = false;
    } else if (job.status === "failed" || job.status === "cancelled") {
      events.close();
      showError(job.error || { message: "the job was " + job.status }, "form");
      $("submit").disabled = false;
    }
  };
  events.onerror = () => {
    if (events.readyState === EventSource.CLOSED) { // the stream cannot be reopened (server gone or job unknown)
      showError({ message: "Lost touch with the job; reload the page to see it again." }, "form");
      $("submit").disabled = false;
    }
  };
  events.addEventListener("status", update);
  events.addEventListener("progress", update);
}

async function submit(event) {
  event.preventDefault();
  clearErrors();
  $("result-panel").hidden = true; $("progress-panel").hidden = true; $("steps").replaceChildren();
  $("submit").disabled = true;
  try {
    const form = new FormData();
    const file = $("file").files[0] || (recorded && new File([recorded], "camera.webm", { type: recorded.type }));
    if (file) form.append("file", file);
    const uploaded = await api("POST", "/api/v2/uploads", form);
    if (!uploaded.ok) { showError(uploaded.json.error, "file"); $("submit").disabled = false; return; }
    const body = {
      word: $("word").value, tts_lang: $("tts_lang").value, user_video_gs: uploaded.json.uri,
      output_video_gs: uploaded.json.output_uri, tts_engine: $("tts_engine").value, voice_mode: $("voice_mode").value,
      tracking: $("tracking").value, composite: $("composite").value,
    };
    const queued = await api("POST", "/api/v2/jobs", JSON.stringify(body), { "Content-Type": "application/json" });
    if (!queued.ok) { showError(queued.json.error, "form"); $("submit").disabled = false; return; }
    follow(queued.json.id);
  } catch (error) {
    showError({ message: "The server cannot be reached: " + error.message }, "form");
    $("submit").disabled = false;
  }
}

$("job-form").addEventListener("submit", submit);
setupCamera();
loadModels().catch(() => {});
loadCapabilities().catch((error) => showError({ message: "The server cannot be reached: " + error.message }, "form"));
