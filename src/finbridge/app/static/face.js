// Face sign-in: film the customer with getUserMedia while each drawn head movement is shown,
// then send the frames to /app/login/face/verify (identity checks face and liveness there).
// No inline script (the CSP forbids it): the button carries data attributes; the CSRF token
// comes from <body hx-headers> like passkey.js. Frames are JPEGs at most 480 px on a side:
// enough for the face model, small to send.
(function () {
  "use strict";

  var MAX_SIDE = 480;

  function csrf() {
    try { return JSON.parse(document.body.getAttribute("hx-headers"))["X-CSRF-Token"]; }
    catch (e) { return ""; }
  }

  function sleep(ms) { return new Promise(function (r) { setTimeout(r, ms); }); }

  function say(id, text) {
    var el = document.getElementById(id);
    if (!el) return;
    el.textContent = text || "";
    if (id === "face-error") el.hidden = !text;
  }

  // The track's own latest frame where the browser offers it (ImageCapture), so a video
  // element scrolled out of view (which browsers may stop painting) cannot freeze the film.
  async function grab(capture, video, canvas) {
    var source = video;
    if (capture) {
      try { source = await capture.grabFrame(); } catch (e) { source = video; }
    }
    canvas.getContext("2d").drawImage(source, 0, 0, canvas.width, canvas.height);
    if (source.close) source.close();
    return canvas.toDataURL("image/jpeg", 0.92);
  }

  function toBlob(dataUrl) {
    var bin = atob(dataUrl.split(",")[1]), out = new Uint8Array(bin.length);
    for (var i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
    return new Blob([out], { type: "image/jpeg" });
  }

  function stop(stream) {
    if (stream) stream.getTracks().forEach(function (t) { t.stop(); });
  }

  async function login(button) {
    var data = button.dataset, retry = document.getElementById("face-retry");
    button.disabled = true;
    say("face-error", "");
    var stream = null;
    try {
      stream = await navigator.mediaDevices.getUserMedia({
        video: { facingMode: "user", width: { ideal: 640 } }, audio: false });
    } catch (e) {
      say("face-error", data.denied);
      button.disabled = false;
      return;
    }
    var video = document.getElementById("face-video");
    video.srcObject = stream;
    video.scrollIntoView({ block: "center" });
    await video.play();
    var capture = window.ImageCapture ? new ImageCapture(stream.getVideoTracks()[0]) : null;
    var scale = Math.min(1, MAX_SIDE / Math.max(video.videoWidth, video.videoHeight));
    var canvas = document.createElement("canvas");
    canvas.width = Math.round(video.videoWidth * scale);
    canvas.height = Math.round(video.videoHeight * scale);
    var steps = Array.prototype.slice.call(document.querySelectorAll("#face-steps li"));
    var half = Math.max(200, (Number(data.stepMs) || 1200) / 2), frames = [];
    // Two frames per instruction, half a step apart: whatever the delay between the camera
    // starting and the first frame, every movement is seen at least once, in order.
    for (var i = 0; i < steps.length; i++) {
      steps.forEach(function (li, j) {
        if (j === i) li.setAttribute("aria-current", "step"); else li.removeAttribute("aria-current");
      });
      say("face-status", steps[i].textContent);
      for (var k = 0; k < 2; k++) {
        await sleep(half);
        var shot = await grab(capture, video, canvas);
        // A camera that stalled hands over the same picture twice: send it once.
        if (shot !== frames[frames.length - 1]) frames.push(shot);
      }
    }
    stop(stream);
    steps.forEach(function (li) { li.removeAttribute("aria-current"); });
    say("face-status", data.sending);
    var form = new FormData();
    form.append("csrf_token", csrf());
    form.append("challenge", data.challenge);
    form.append("liveness_id", data.liveness);
    form.append("next", data.next);
    frames.forEach(function (f, n) { form.append("frames", toBlob(f), "frame" + n + ".jpg"); });
    var answer = {};
    try {
      var r = await fetch("/app/login/face/verify", {
        method: "POST", credentials: "same-origin", headers: { "X-CSRF-Token": csrf() }, body: form });
      answer = await r.json();
    } catch (e) {
      answer = { error: data.failed };
    }
    say("face-status", "");
    if (answer.next) { window.location = answer.next; return; }
    say("face-error", answer.error || data.failed);
    if (retry) retry.hidden = false;  // the challenge was single use: a new one to try again
  }

  document.addEventListener("click", function (ev) {
    var button = ev.target.closest && ev.target.closest("[data-face-login]");
    if (button) { ev.preventDefault(); login(button); }
  });
})();
