// The seed's dashboard: stats cards, temperature lines, device pie, anomaly bars and a table of
// recent records, refreshed every 15 s from the JSON API. Sets <body data-charts-drawn="N">
// once N charts have pixels on their canvas, and data-state="ok" | "db-down" | "error".
(function () {
  "use strict";

  var body = document.body;
  var REFRESH_MS = Number(body.dataset.refreshSeconds || 15) * 1000;
  var RECORDS_SHOWN = 50;
  var THRESHOLD_C = 35;
  var PALETTE = ["#0d6efd", "#20c997", "#fd7e14", "#6f42c1", "#d63384", "#0dcaf0",
                 "#198754", "#ffc107", "#6610f2", "#adb5bd", "#dc3545", "#495057"];
  var charts = {};

  function byId(id) { return document.getElementById(id); }
  function color(i) { return PALETTE[i % PALETTE.length]; }

  function getJSON(url) {
    return fetch(url, { headers: { Accept: "application/json" } }).then(function (response) {
      return response.json().catch(function () { return null; }).then(function (payload) {
        if (!response.ok) {
          var error = new Error((payload && payload.error) || ("HTTP " + response.status + " from " + url));
          error.status = response.status;
          throw error;
        }
        return payload;
      });
    });
  }

  function formatNumber(value, digits) {
    if (value === null || value === undefined) return "–";
    return Number(value).toLocaleString("en-US", { minimumFractionDigits: digits || 0, maximumFractionDigits: digits || 0 });
  }

  function formatTime(iso) {
    if (!iso) return "–";
    var date = new Date(iso);
    return isNaN(date) ? iso : date.toISOString().replace("T", " ").slice(0, 19);
  }

  function setText(id, text) { byId(id).textContent = text; }

  function renderStats(stats) {
    setText("stat-total", formatNumber(stats.total));
    setText("stat-total-note", stats.last_event_time ? "last " + formatTime(stats.last_event_time) : "no events yet");
    setText("stat-anomalies", formatNumber(stats.anomalies));
    setText("stat-anomalies-note", formatNumber((stats.anomaly_rate || 0) * 100, 1) + " % of events");
    setText("stat-avg-temperature", stats.avg_temperature === null ? "–" : formatNumber(stats.avg_temperature, 1) + " °C");
    setText("stat-avg-temperature-note", "over all thermostat readings");
    setText("stat-device-count", formatNumber(stats.device_count));
    setText("stat-device-count-note", "reporting devices");
    setText("dead-letters", formatNumber(stats.dead_letters) + " dead-lettered records");
  }

  function baseOptions(extra) {
    var options = { responsive: true, maintainAspectRatio: false, animation: false,
                    plugins: { legend: { position: "bottom", labels: { boxWidth: 12 } } } };
    return Object.assign(options, extra || {});
  }

  function upsertChart(key, canvasId, type, data, options) {
    if (charts[key]) {
      charts[key].data = data;
      charts[key].update("none");
    } else {
      charts[key] = new window.Chart(byId(canvasId), { type: type, data: data, options: options });
    }
  }

  function temperatureData(series) {
    var datasets = series.map(function (s, i) {
      var points = s.points.filter(function (p) { return typeof p.temperature_celsius === "number"; });
      return {
        label: s.device_id, borderColor: color(i), backgroundColor: color(i), borderWidth: 2, tension: 0.25,
        cubicInterpolationMode: "monotone",
        data: points.map(function (p) { return { x: Date.parse(p.event_time), y: p.temperature_celsius }; }),
        pointRadius: points.map(function (p) { return p.is_anomaly ? 5 : 2; }),
        pointBackgroundColor: points.map(function (p) { return p.is_anomaly ? "#dc3545" : color(i); }),
      };
    });
    var xs = [];
    datasets.forEach(function (d) { d.data.forEach(function (p) { xs.push(p.x); }); });
    if (xs.length) {
      datasets.push({
        label: THRESHOLD_C + " °C rule", borderColor: "rgba(220,53,69,0.6)", borderDash: [6, 6],
        borderWidth: 1, pointRadius: 0, fill: false,
        data: [{ x: Math.min.apply(null, xs), y: THRESHOLD_C }, { x: Math.max.apply(null, xs), y: THRESHOLD_C }],
      });
    }
    return { datasets: datasets, xRange: xs.length ? [Math.min.apply(null, xs), Math.max.apply(null, xs)] : null };
  }

  function renderCharts(chartData) {
    var temperature = temperatureData(chartData.temperature_series);
    upsertChart("temperature", "temperature-chart", "line", { datasets: temperature.datasets },
      baseOptions({
        parsing: true,
        scales: {
          x: { type: "linear", ticks: { maxTicksLimit: 8, callback: function (v) { return new Date(v).toISOString().slice(11, 19); } } },
          y: { title: { display: true, text: "°C" } },
        },
      }));
    if (temperature.xRange) {  // no empty margins left and right of the readings
      charts.temperature.options.scales.x.min = temperature.xRange[0];
      charts.temperature.options.scales.x.max = temperature.xRange[1];
      charts.temperature.update("none");
    }
    var byDevice = chartData.device_distribution.by_device;
    upsertChart("distribution", "distribution-chart", "pie", {
      labels: byDevice.map(function (d) { return d.device_id; }),
      datasets: [{ data: byDevice.map(function (d) { return d.count; }),
                   backgroundColor: byDevice.map(function (_, i) { return color(i); }) }],
    }, baseOptions({ plugins: { legend: { position: "right", labels: { boxWidth: 12 } } } }));
    var types = chartData.device_distribution.by_type;
    setText("type-split", "(" + Object.keys(types).map(function (t) { return formatNumber(types[t]) + " " + t; }).join(" · ") + ")");
    var anomalies = chartData.anomalies_by_device;
    upsertChart("anomalies", "anomaly-chart", "bar", {
      labels: anomalies.map(function (d) { return d.device_id; }),
      datasets: [{ label: "anomalies", data: anomalies.map(function (d) { return d.anomalies; }),
                   backgroundColor: "rgba(220,53,69,0.75)", borderRadius: 4 }],
    }, baseOptions({ plugins: { legend: { display: false } }, scales: { y: { beginAtZero: true, ticks: { precision: 0 } } } }));
  }

  function canvasHasInk(canvas) {
    var context = canvas.getContext("2d");
    if (!context || !canvas.width || !canvas.height) return false;
    var pixels = context.getImageData(0, 0, canvas.width, canvas.height).data;
    for (var i = 3; i < pixels.length; i += 16) { if (pixels[i] !== 0) return true; }
    return false;
  }

  function cell(row, text, className) {
    var td = document.createElement("td");
    td.textContent = text;
    if (className) td.className = className;
    row.appendChild(td);
    return td;
  }

  function badge(td, text, style) {
    td.textContent = "";
    var span = document.createElement("span");
    span.className = "badge " + style;
    span.textContent = text;
    td.appendChild(span);
  }

  function renderTable(records) {
    var tbody = byId("records-body");
    tbody.textContent = "";
    if (!records.length) {
      var empty = document.createElement("tr");
      cell(empty, "No records yet: is the producer running?", "text-center text-secondary py-4").colSpan = 9;
      tbody.appendChild(empty);
      return;
    }
    records.slice(0, RECORDS_SHOWN).forEach(function (r) {
      var row = document.createElement("tr");
      row.className = r.is_anomaly ? "table-danger" : (r.device_type === "motion" ? "row-motion" : "");
      cell(row, formatTime(r.event_time || r.timestamp), "text-nowrap font-monospace small");
      cell(row, r.device_id, "fw-semibold");
      cell(row, r.device_type || "–");
      cell(row, typeof r.temperature_celsius === "number" ? r.temperature_celsius.toFixed(2) + " °C" : "–", "text-end");
      cell(row, typeof r.humidity_percent === "number" ? r.humidity_percent.toFixed(1) + " %" : "–", "text-end");
      var motion = cell(row, "–");
      if (typeof r.motion_detected === "boolean") {
        badge(motion, r.motion_detected ? "motion" : "still", r.motion_detected ? "text-bg-info" : "text-bg-light");
      }
      var camera = cell(row, "–");
      if (r.camera_status) badge(camera, r.camera_status, r.camera_status === "online" ? "text-bg-success" : "text-bg-secondary");
      badge(cell(row, ""), r.is_anomaly ? "ANOMALY" : "normal", r.is_anomaly ? "text-bg-danger" : "text-bg-success");
      cell(row, r.detector || "–", "text-secondary small");
      tbody.appendChild(row);
    });
  }

  function showProblem(error) {
    var dbDown = error.status === 503;
    byId("db-banner").classList.toggle("d-none", !dbDown);
    if (dbDown) {
      var reason = error.message.replace(/^Database unreachable:?\s*/, "");
      setText("db-banner-detail", "The dashboard cannot reach MongoDB (" + reason + "). " +
        "It retries every " + REFRESH_MS / 1000 + " s; figures below may be stale.");
      var placeholder = byId("records-body").querySelector(".loading");
      if (placeholder) placeholder.textContent = "No data: the database is unreachable.";
    }
    var other = byId("error-banner");
    other.classList.toggle("d-none", dbDown);
    if (!dbDown) other.textContent = "Could not refresh: " + error.message;
    body.dataset.state = dbDown ? "db-down" : "error";
  }

  function clearProblems() {
    byId("db-banner").classList.add("d-none");
    byId("error-banner").classList.add("d-none");
    body.dataset.state = "ok";
  }

  function refresh() {
    return Promise.all([
      getJSON("/api/stats"), getJSON("/api/chart-data"), getJSON("/api/data?limit=" + RECORDS_SHOWN),
    ]).then(function (answers) {
      clearProblems();
      renderStats(answers[0]);
      renderTable(answers[2].records);
      if (window.Chart) {
        renderCharts(answers[1]);
        var drawn = ["temperature-chart", "distribution-chart", "anomaly-chart"].filter(function (id) {
          return canvasHasInk(byId(id));
        });
        body.dataset.chartsDrawn = String(drawn.length);
      }
      var badgeEl = byId("last-updated");
      badgeEl.textContent = "updated " + new Date().toLocaleTimeString();
      badgeEl.className = "badge text-bg-success";
    }).catch(function (error) {
      showProblem(error);
      var badgeEl = byId("last-updated");
      badgeEl.textContent = "refresh failed " + new Date().toLocaleTimeString();
      badgeEl.className = "badge text-bg-danger";
    });
  }

  byId("refresh-now").addEventListener("click", refresh);
  refresh();
  window.setInterval(refresh, REFRESH_MS);
})();
