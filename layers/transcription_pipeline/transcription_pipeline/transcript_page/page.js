// transcript.html: click-to-seek, current word, search, keyboard. No network: the
// recording is a file the reader attaches (an object URL) or a file beside the page.
(() => {
  "use strict";
  const byId = (id) => document.getElementById(id);
  const video = byId("player");
  const turns = byId("turns");
  if (!video || !turns) return; // no speech: nothing to play or search

  const fileInput = byId("media-file");
  const status = byId("player-status");
  const follow = byId("follow");
  const bar = document.querySelector(".bar");
  const clock = (seconds) => {
    const total = Math.max(0, Math.floor(seconds));
    const h = Math.floor(total / 3600);
    const m = Math.floor((total % 3600) / 60);
    const s = total % 60;
    return (h ? h + ":" : "") + String(m).padStart(2, "0") + ":" + String(s).padStart(2, "0");
  };

  // ---- the recording ------------------------------------------------------------
  // The file beside the page is tried only when the reader asks to play: a missing file
  // would otherwise cost a failed request (and a console error) on every page open.
  let loaded = false;
  let source = ""; // "beside" | "file"
  let objectUrl = "";
  let triedBeside = false;
  let pendingSeek = null;
  let pendingPlay = false;

  const say = (text) => { status.textContent = text; };
  const play = () => { const p = video.play(); if (p) p.catch(() => {}); };

  function askForFile(seconds) {
    say(seconds === null
      ? "Attach the recording to play it."
      : "Attach the recording to play from " + clock(seconds) + ".");
    fileInput.focus();
  }

  function load(url, kind) {
    loaded = false;
    source = kind;
    video.src = url;
    video.load();
  }

  function want(seconds, andPlay) {
    if (loaded) {
      if (seconds !== null) video.currentTime = seconds;
      if (andPlay) play();
      return;
    }
    pendingSeek = seconds;
    pendingPlay = andPlay;
    const beside = video.dataset.media;
    if (beside && !triedBeside) {
      triedBeside = true;
      load(encodeURIComponent(beside), "beside");
    } else if (!video.getAttribute("src")) {
      askForFile(seconds);
    }
  }

  video.addEventListener("loadedmetadata", () => {
    loaded = true;
    video.hidden = false;
    if (source === "beside") say("");
    if (pendingSeek !== null) video.currentTime = Math.min(pendingSeek, video.duration || pendingSeek);
    if (pendingPlay) play();
    pendingSeek = null;
    pendingPlay = false;
    markNow();
  });
  video.addEventListener("error", () => {
    loaded = false;
    if (source === "beside") {
      // No recording beside the page (or no access to it): quietly offer the file picker.
      video.removeAttribute("src");
      video.hidden = true;
      askForFile(pendingSeek);
    } else if (source === "file") {
      say("This file cannot be played here. Try another format (for example MP4 or MP3).");
    }
  });
  fileInput.addEventListener("change", () => {
    const file = fileInput.files && fileInput.files[0];
    if (!file) return;
    if (objectUrl) URL.revokeObjectURL(objectUrl);
    objectUrl = URL.createObjectURL(file);
    say(file.name + " is attached from this computer.");
    load(objectUrl, "file");
  });

  function togglePlay() {
    if (!loaded) want(null, true);
    else if (video.paused) play();
    else video.pause();
  }

  // Click-to-seek: any word or timestamp carries its start time in data-t.
  document.addEventListener("click", (event) => {
    const target = event.target.closest("[data-t]");
    if (!target) return;
    const selection = window.getSelection();
    if (target.tagName === "SPAN" && selection && !selection.isCollapsed) return; // selecting text
    want(parseFloat(target.dataset.t), true);
  });

  // ---- the current word: binary search over the words' start times -------------------
  let spans = null;
  let times = null;
  let order = null;
  let now = null;
  function indexWords() {
    spans = turns.querySelectorAll("span[data-t]");
    const n = spans.length;
    times = new Float64Array(n);
    order = new Uint32Array(n);
    let sorted = true;
    for (let i = 0; i < n; i++) {
      times[i] = parseFloat(spans[i].getAttribute("data-t"));
      order[i] = i;
      if (i && times[i] < times[i - 1]) sorted = false;
    }
    if (!sorted) { // overlapping channels: sort once, search the sorted copy
      order.sort((a, b) => times[a] - times[b] || a - b);
      const copy = new Float64Array(n);
      for (let i = 0; i < n; i++) copy[i] = times[order[i]];
      times = copy;
    }
  }
  function markNow() {
    if (!loaded) return;
    if (!times) indexWords();
    const t = video.currentTime + 0.001;
    let lo = 0;
    let hi = times.length; // first start > t
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (times[mid] <= t) lo = mid + 1; else hi = mid;
    }
    const span = lo ? spans[order[lo - 1]] : null;
    if (span === now) return;
    if (now) now.classList.remove("now");
    now = span;
    if (!span) return;
    span.classList.add("now");
    if (follow && follow.checked && !video.paused) {
      const box = span.getBoundingClientRect();
      const top = bar ? bar.getBoundingClientRect().bottom : 0;
      if (box.top < top || box.bottom > window.innerHeight) span.scrollIntoView({ block: "center" });
    }
  }
  let frame = 0;
  const tick = () => { markNow(); frame = video.paused ? 0 : requestAnimationFrame(tick); };
  video.addEventListener("play", () => { if (!frame) frame = requestAnimationFrame(tick); });
  video.addEventListener("seeked", markNow);
  video.addEventListener("timeupdate", markNow);

  // ---- search ----------------------------------------------------------------------
  const box = byId("search");
  const count = byId("search-count");
  const MAX_MARKED = 5000; // beyond this many matches, count them but do not mark them
  let matches = []; // per match, its <mark> elements
  let current = -1;
  let searched = "";
  let timer = 0;

  function clearMarks() {
    const parents = new Set();
    for (const mark of turns.querySelectorAll("mark")) {
      parents.add(mark.parentNode);
      mark.replaceWith(...mark.childNodes);
    }
    for (const parent of parents) parent.normalize();
    matches = [];
    current = -1;
  }

  function search(query) {
    clearTimeout(timer);
    searched = query;
    clearMarks();
    const needle = query.replace(/\s+/g, " ").trim().toLowerCase();
    if (!needle) { count.textContent = ""; return; }
    // Every paragraph's text nodes as one string per paragraph: phrases cross words,
    // never turns.
    const found = [];
    for (const paragraph of turns.querySelectorAll("p.words")) {
      const walker = document.createTreeWalker(paragraph, NodeFilter.SHOW_TEXT);
      const nodes = [];
      const starts = [];
      let text = "";
      for (let node = walker.nextNode(); node; node = walker.nextNode()) {
        const lower = node.data.toLowerCase();
        nodes.push(node);
        starts.push(text.length);
        text += lower.length === node.data.length ? lower : node.data;
      }
      for (let at = text.indexOf(needle); at !== -1; at = text.indexOf(needle, at + needle.length)) {
        found.push([nodes, starts, at, at + needle.length]);
      }
    }
    const total = found.length;
    if (!total) { count.textContent = "No matches"; return; }
    if (total > MAX_MARKED) {
      count.textContent = total.toLocaleString("en") + " matches: type more to mark them";
      return;
    }
    // Wrap from the last match back: splitting a text node keeps the earlier offsets.
    matches = new Array(total);
    for (let m = total - 1; m >= 0; m--) {
      const [nodes, starts, from, to] = found[m];
      const marks = [];
      for (let j = nodes.length - 1; j >= 0; j--) {
        const begin = starts[j];
        const end = begin + nodes[j].length;
        if (end <= from || begin >= to) continue;
        let piece = nodes[j];
        const cut = Math.min(to, end) - begin;
        if (cut < piece.length) piece.splitText(cut);
        if (from > begin) piece = piece.splitText(from - begin);
        const mark = document.createElement("mark");
        piece.replaceWith(mark);
        mark.appendChild(piece);
        marks.unshift(mark);
      }
      matches[m] = marks;
    }
    go(0);
  }

  function go(index) {
    if (!matches.length) return;
    if (current >= 0) for (const mark of matches[current]) mark.classList.remove("cur");
    current = (index + matches.length) % matches.length;
    for (const mark of matches[current]) mark.classList.add("cur");
    matches[current][0].scrollIntoView({ block: "center" });
    count.textContent = (current + 1) + " of " + matches.length.toLocaleString("en");
  }
  function step(delta) {
    if (box.value !== searched) search(box.value);
    else go(current + delta);
  }

  box.addEventListener("input", () => {
    clearTimeout(timer);
    timer = setTimeout(() => search(box.value), 150);
  });
  box.addEventListener("keydown", (event) => {
    if (event.key === "Enter") { event.preventDefault(); step(event.shiftKey ? -1 : 1); }
    else if (event.key === "Escape") { box.value = ""; search(""); }
  });
  byId("search-next").addEventListener("click", () => step(1));
  byId("search-prev").addEventListener("click", () => step(-1));
  for (const keyword of document.querySelectorAll("button.kw")) {
    keyword.addEventListener("click", () => { box.value = keyword.textContent; search(box.value); box.focus(); });
  }

  // ---- keyboard: Space or k plays and pauses, j and l skip 5 s, / searches -----------
  document.addEventListener("keydown", (event) => {
    if (event.defaultPrevented || event.ctrlKey || event.metaKey || event.altKey) return;
    const target = event.target;
    if (target.closest && target.closest("input, textarea, select, [contenteditable]")) return;
    const key = event.key;
    if (key === " " && target.closest && target.closest("button, a, video")) return; // their own Space
    if (key === " " || key === "k") togglePlay();
    else if (key === "j" && loaded) video.currentTime = Math.max(0, video.currentTime - 5);
    else if (key === "l" && loaded) video.currentTime += 5;
    else if (key === "/") box.focus();
    else return;
    event.preventDefault();
  });
})();
