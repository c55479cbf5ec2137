// Plays the manifest to the end at double speed, forcing a switch from the lowest to the
// highest video rung after the first fragment, and reports errors and the rungs rendered.
'use strict';

const params = new URLSearchParams(location.search);
const player = params.get('player');
const src = params.get('src');
const video = document.getElementById('video');
const report = {
  player,
  ended: false,
  fatal: [],
  warnings: [],
  renderedLevels: [],
  fetchedLevels: [],
  levelCount: 0,
  currentTime: 0,
  duration: 0,
};
let sent = false;

function send(reason) {
  if (sent) return;
  sent = true;
  report.reason = reason;
  report.currentTime = video.currentTime;
  report.duration = video.duration;
  fetch('/report', { method: 'POST', body: JSON.stringify(report) });
}

function rendered(level) {
  if (!report.renderedLevels.includes(level)) report.renderedLevels.push(level);
}

function fetched(level) {
  if (!report.fetchedLevels.includes(level)) report.fetchedLevels.push(level);
}

video.addEventListener('ended', () => { report.ended = true; send('ended'); });
video.addEventListener('error', () => {
  report.fatal.push('video element: ' + (video.error ? video.error.code + ' ' + video.error.message : '?'));
  send('video error');
});
video.addEventListener('loadedmetadata', () => { video.playbackRate = 2; });
window.addEventListener('error', (event) => { report.fatal.push('page: ' + event.message); send('page error'); });
setTimeout(() => send('timeout'), 100000);

function playHls() {
  if (!Hls.isSupported()) { report.fatal.push('hls.js: MSE unsupported'); send('unsupported'); return; }
  const hls = new Hls({ startLevel: 0, capLevelToPlayerSize: false });
  let forced = false;
  hls.on(Hls.Events.ERROR, (_event, data) => {
    const text = data.type + '/' + data.details;
    if (data.fatal) { report.fatal.push(text); send('fatal'); } else { report.warnings.push(text); }
  });
  hls.on(Hls.Events.MANIFEST_PARSED, (_event, data) => { report.levelCount = data.levels.length; video.play(); });
  hls.on(Hls.Events.LEVEL_SWITCHED, (_event, data) => rendered(data.level));
  hls.on(Hls.Events.FRAG_LOADED, (_event, data) => {
    if (data.frag.type === 'main') fetched(data.frag.level);
  });
  hls.on(Hls.Events.FRAG_BUFFERED, (_event, data) => {
    if (!forced && data.frag.type === 'main') {
      forced = true;
      // Localhost bandwidth would let ABR pick the top at once; start low, then force the top.
      hls.nextLevel = hls.levels.length - 1;
    }
  });
  hls.loadSource(src);
  hls.attachMedia(video);
}

function playDash() {
  const dash = dashjs.MediaPlayer().create();
  // Start on the lowest rung (initial bit rate in kbit/s below every rung), no automatic switching.
  dash.updateSettings({
    streaming: { abr: { autoSwitchBitrate: { video: false }, initialBitrate: { video: 1 } } },
  });
  let forced = false;
  const events = dashjs.MediaPlayer.events;
  dash.on(events.ERROR, (event) => {
    report.fatal.push('dash.js: ' + JSON.stringify(event.error || event));
    send('fatal');
  });
  dash.on(events.STREAM_INITIALIZED, () => {
    report.levelCount = dash.getRepresentationsByType('video').length;
  });
  dash.on(events.QUALITY_CHANGE_RENDERED, (event) => {
    if (event.mediaType === 'video') rendered(event.newRepresentation.id);
  });
  dash.on(events.FRAGMENT_LOADING_COMPLETED, (event) => {
    const request = event.request || {};
    if (request.mediaType === 'video' && request.representation) fetched(request.representation.id);
    if (!forced && event.request && event.request.mediaType === 'video' && event.request.type === 'MediaSegment') {
      forced = true;
      dash.setRepresentationForTypeByIndex('video', dash.getRepresentationsByType('video').length - 1);
    }
  });
  dash.on(events.PLAYBACK_ENDED, () => { report.ended = true; send('ended'); });
  dash.initialize(video, src, true);
}

try {
  if (player === 'hls') playHls(); else if (player === 'dash') playDash(); else throw new Error('player?');
} catch (error) {
  report.fatal.push('exception: ' + error);
  send('exception');
}
