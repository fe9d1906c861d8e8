// imgcompare's HTML report: a treemap of each image's final filesystem,
// drawn from the data the page carries, zoomed by a click. Names come
// from images, untrusted: they are only ever set as text.
"use strict";
(function () {
  var data = JSON.parse(document.getElementById("report-data").textContent);
  var palette = function (layer, layers) {
    if (!layer) return "var(--small)";
    var hue = Math.round((layer - 1) * 360 / Math.max(layers, 1) + 200) % 360;
    return "hsl(" + hue + " 55% 55%)";
  };
  var human = function (n) {
    var units = ["B", "kB", "MB", "GB", "TB"], i = 0;
    while (Math.abs(n) >= 1000 && i < units.length - 1) { n /= 1000; i++; }
    return (i === 0 ? n : n.toPrecision(3)) + " " + units[i];
  };
  // squarify lays nodes (largest first) out in the rectangle x, y, w, h,
  // rows of nearly square boxes, each's area its share of the bytes.
  var squarify = function (nodes, x, y, w, h) {
    var total = nodes.reduce(function (s, n) { return s + n.b; }, 0);
    var out = [], scale = total > 0 ? (w * h) / total : 0, i = 0;
    while (i < nodes.length) {
      var short = Math.min(w, h), row = [], rowArea = 0, worst = Infinity;
      while (i < nodes.length) {
        var a = nodes[i].b * scale, next = rowArea + a;
        var max = Math.max(a, row.length ? row[0].b * scale : a), min = a;
        var ratio = Math.max(short * short * max / (next * next), (next * next) / (short * short * min));
        if (row.length && ratio > worst) break;
        row.push(nodes[i]); rowArea = next; worst = ratio; i++;
      }
      var thick = short > 0 ? rowArea / short : 0, along = 0;
      row.forEach(function (n) {
        var len = thick > 0 ? (n.b * scale) / thick : 0;
        if (w >= h) out.push({ n: n, x: x, y: y + along, w: thick, h: len });
        else out.push({ n: n, x: x + along, y: y, w: len, h: thick });
        along += len;
      });
      if (w >= h) { x += thick; w -= thick; } else { y += thick; h -= thick; }
    }
    return out;
  };
  var draw = function (section, image, path) {
    var map = section.querySelector(".treemap"), crumbs = section.querySelector(".crumbs");
    var node = image.tree;
    path.forEach(function (name) { node = node.c.filter(function (c) { return c.n === name; })[0]; });
    map.textContent = "";
    var width = map.clientWidth, height = map.clientHeight;
    squarify(node.c || [], 0, 0, width, height).forEach(function (r) {
      var box = document.createElement("div");
      box.className = "box" + (r.n.c ? " dir" : "");
      box.style.left = r.x + "px"; box.style.top = r.y + "px";
      box.style.width = r.w + "px"; box.style.height = r.h + "px";
      box.style.background = r.n.c ? "var(--dir)" : palette(r.n.l, image.layers.length);
      box.dataset.bytes = r.n.b; box.dataset.name = r.n.n;
      var full = "/" + path.concat([r.n.n]).join("/");
      var tip = full + "\n" + human(r.n.b) + " (" + r.n.b + " bytes)";
      if (r.n.l) tip += "\nlayer " + r.n.l + ": " + image.layers[r.n.l - 1].instruction;
      if (r.n.p) tip += "\npackage " + r.n.p;
      box.title = tip;
      if (r.w > 40 && r.h > 14) {
        var label = document.createElement("span");
        label.textContent = r.n.n + " " + human(r.n.b);
        box.appendChild(label);
      }
      if (r.n.c) box.addEventListener("click", function () { draw(section, image, path.concat([r.n.n])); });
      map.appendChild(box);
    });
    crumbs.textContent = "";
    var up = function (depth, text) {
      var a = document.createElement("button");
      a.textContent = text;
      a.addEventListener("click", function () { draw(section, image, path.slice(0, depth)); });
      crumbs.appendChild(a);
    };
    up(0, "/");
    path.forEach(function (name, i) { up(i + 1, name + "/"); });
    section.dataset.path = "/" + path.join("/");
  };
  data.images.forEach(function (image, i) {
    var section = document.getElementById("image-" + i);
    if (image.tree) draw(section, image, []);
  });
  document.body.dataset.ready = "true";
})();
