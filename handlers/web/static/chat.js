// Kanal Aduan web chat: sends what the citizen types or presses to the server, shows what
// the bot says (the transcript, then live over server-sent events). All text is shown
// with textContent: nothing a message contains is ever read as HTML.
"use strict";
(function () {
  const settings = JSON.parse(document.getElementById("chat-settings").textContent);
  const texts = settings.texts;
  const list = document.getElementById("messages");
  const status = document.getElementById("status");
  const form = document.getElementById("composer");
  const input = document.getElementById("text");
  const photo = document.getElementById("photo");
  let last = 0;
  let source = null;
  const shown = new Set();

  function newId() {
    const bytes = new Uint8Array(12);
    crypto.getRandomValues(bytes);
    return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
  }

  function say(text) {
    status.textContent = text || "";
    status.hidden = !text;
  }

  function scroll() {
    list.scrollTop = list.scrollHeight;
  }

  function render(message) {
    if (shown.has(message.id)) return;
    shown.add(message.id);
    last = Math.max(last, message.id);
    const bubble = document.createElement("div");
    bubble.className = message.own ? "msg own" : "msg";
    bubble.dataset.id = String(message.id);
    if (message.text) {
      const p = document.createElement("p");
      p.textContent = message.text;
      bubble.appendChild(p);
    }
    for (const url of message.photos) {
      const img = document.createElement("img");
      img.src = url;
      img.alt = "";
      img.loading = "lazy";
      img.addEventListener("load", scroll);
      bubble.appendChild(img);
    }
    if (message.location) {
      const p = document.createElement("p");
      p.textContent = "📍 " + message.location.lat.toFixed(5) + ", " + message.location.lon.toFixed(5);
      bubble.appendChild(p);
    }
    const rows = message.choices.slice();
    if (message.askLocation) rows.unshift([{ id: "", label: message.locationButton || "📍", location: true }]);
    if (rows.length) {
      const choices = document.createElement("div");
      choices.className = "choices";
      for (const row of rows) {
        const line = document.createElement("div");
        line.className = "row";
        for (const choice of row) {
          const button = document.createElement("button");
          button.type = "button";
          button.textContent = choice.label;
          button.addEventListener("click", () => (choice.location ? shareLocation() : press(choice)));
          line.appendChild(button);
        }
        choices.appendChild(line);
      }
      bubble.appendChild(choices);
    }
    list.appendChild(bubble);
    scroll();
  }

  async function post(url, body, headers) {
    const response = await fetch(url, {
      method: "POST",
      credentials: "same-origin",
      headers: Object.assign({ "X-Aduan-Token": settings.token }, headers || {}),
      body: body,
    });
    if (response.ok) {
      say("");
      return true;
    }
    // A proxy in front may refuse a large body with a page of its own: still say why.
    let error = response.status === 413 ? texts.too_long : texts.failed;
    try {
      error = (await response.json()).error || error;
    } catch (_) {
      /* not JSON */
    }
    say(error);
    return false;
  }

  function send(message) {
    message.id = message.id || newId();
    return post("/chat/api/send", JSON.stringify(message), { "Content-Type": "application/json" });
  }

  function press(choice) {
    return send({ kind: "choice", choice: choice.id, label: choice.label });
  }

  function shareLocation() {
    if (!navigator.geolocation) return say(texts.location_denied);
    navigator.geolocation.getCurrentPosition(
      (position) => send({ kind: "location", lat: position.coords.latitude, lon: position.coords.longitude }),
      () => say(texts.location_denied),
      { enableHighAccuracy: true, timeout: 15000 }
    );
  }

  // The composer grows with its text (up to its CSS max-height, then it scrolls).
  function grow() {
    input.style.height = "auto";
    input.style.height = input.scrollHeight + "px";
  }
  input.addEventListener("input", grow);

  // Enter sends; Shift+Enter (or Enter while an input method composes) is a line break.
  input.addEventListener("keydown", (event) => {
    if (event.key !== "Enter" || event.shiftKey || event.isComposing) return;
    event.preventDefault();
    form.requestSubmit();
  });

  let sending = false;
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const text = input.value.trim();
    if (!text || sending) return;
    const id = newId();
    sending = true;
    input.readOnly = true;
    // What the citizen typed stays in the box until the server has it.
    const ok = await send({ id: id, kind: "text", text: text });
    input.readOnly = false;
    sending = false;
    if (ok) {
      input.value = "";
      grow();
    }
    input.focus();
  });

  photo.addEventListener("change", async () => {
    const file = photo.files && photo.files[0];
    photo.value = "";
    if (!file) return;
    if (file.size > settings.maxPhotoBytes) return say(settings.photoTooLarge);
    const body = new FormData();
    body.append("id", newId());
    body.append("photo", file);
    await post("/chat/api/photo", body);
  });

  document.getElementById("lang-switch").addEventListener("click", async (event) => {
    event.preventDefault();
    const link = event.currentTarget;
    await send({ kind: "choice", choice: "lang:" + link.dataset.lang, label: link.textContent });
    window.location.href = link.href;
  });

  const box = document.getElementById("continue-box");
  box.querySelector("p").textContent = texts.continue_text;
  document.getElementById("continue-copy").textContent = texts.continue_copy;
  document.getElementById("continue-close").textContent = texts.continue_close;
  document.getElementById("continue").addEventListener("click", async () => {
    const response = await fetch("/chat/api/link", { credentials: "same-origin" });
    if (!response.ok) return say(texts.failed);
    document.getElementById("continue-url").value = (await response.json()).url;
    box.hidden = false;
  });
  document.getElementById("continue-copy").addEventListener("click", () => {
    const field = document.getElementById("continue-url");
    field.select();
    if (navigator.clipboard) navigator.clipboard.writeText(field.value);
  });
  document.getElementById("continue-close").addEventListener("click", () => (box.hidden = true));

  function listen() {
    if (source) source.close();
    source = new EventSource("/chat/api/stream?after=" + last);
    source.onopen = () => say("");
    source.onmessage = (event) => render(JSON.parse(event.data));
    source.onerror = () => say(texts.offline);
  }

  async function start() {
    say(texts.connecting);
    const response = await fetch("/chat/api/messages", { credentials: "same-origin" });
    const data = response.ok ? await response.json() : { messages: [] };
    data.messages.forEach(render);
    say("");
    listen();
    if (!data.messages.length) await send({ kind: "text", text: texts.start });
  }

  start();
})();
