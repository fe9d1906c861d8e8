// imgcompare's HTML report: a treemap of each image's final filesystem,
// drawn from the data the page carries, zoomed by a click. Names come
// from images, untrusted: they are only ever set as text.
"use strict";
(function () {
  var data = JSON.parse(document.getElementById("report-data").textContent);
  // el makes an element with attributes and children: strings become text
  // nodes, never markup.
  var el = function (tag, attrs, children) {
    var e = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (k) { e.setAttribute(k, attrs[k]); });
    (children || []).forEach(function (c) {
      if (c === null || c === undefined) return;
      e.append(typeof c === "string" || typeof c === "number" ? String(c) : c);
    });
    return e;
  };
  // table makes a sortable table: a header of names (a name ending in
  // "#" is a number, right-aligned), rows of cells; a cell is a string or
  // [text, number to sort by].
  var table = function (names, rows, rowAttrs) {
    var t = el("table", { "class": "sortable" }, [el("tr", {}, names.map(function (n) {
      return el("th", n.slice(-1) === "#" ? { "class": "n" } : {}, [n.replace(/#$/, "")]);
    }))]);
    rows.forEach(function (row, i) {
      t.append(el("tr", rowAttrs ? rowAttrs(i) : {}, row.map(function (c, j) {
        var attrs = names[j].slice(-1) === "#" ? { "class": "n" } : {};
        if (Array.isArray(c)) { attrs["data-sort"] = c[1]; c = c[0]; }
        return el("td", attrs, [c]);
      })));
    });
    return t;
  };
  // build writes the page from the data.
  document.title = "imgcompare: " + data.images.map(function (i) { return i.name; }).join(", ");
  var body = document.body;
  if (data.images.length > 1) {
    body.append(el("nav", { "class": "tabs", role: "tablist" }, data.images.map(function (i) { return el("button", { role: "tab" }, [i.name]); })));
  }
  if (data.results && data.results.length) {
    body.append(el("h2", {}, ["Gates"]), table(["Image", "Rule", "Limit", "Verdict"], data.results.map(function (r) {
      return [r.image, "--" + r.rule, r.limit, el("span", { "class": r.violation ? "fail" : "pass" }, [r.violation || "passed"])];
    })));
  }
  data.images.forEach(function (img, i) {
    var s = el("section", { "class": "image", id: "image-" + i }, [
      el("h2", {}, [img.name]),
      el("p", { "class": "figures" }, [img.figures])]);
    if (img.tree) {
      s.append(el("h3", {}, ["The final filesystem"]),
        el("p", { "class": "figures" }, ["Boxes by bytes, coloured by the layer that wrote them (directories grey); a click on a directory zooms in, the path above zooms out; a click on a layer below shows what it wrote."]),
        el("div", { "class": "files" }, [el("div", { "class": "crumbs" }), el("div", { "class": "treemap" })]),
        table(["Directory", "Bytes#", "Share#"], img.top.map(function (d) { return [d.name, [d.size, d.bytes], [d.share, d.bytes]]; })));
    }
    if (img.growth) {
      var legend = el("p", { "class": "figures" }, ["Boxes by the bytes each path added (", el("span", { "class": "swatch added" }), " new, ",
        el("span", { "class": "swatch grown" }), " grown): " + img.growth_size + " in all."]);
      s.append(el("h3", {}, ["What grew over " + img.baseline]), legend,
        el("div", { "class": "growth" }, [el("div", { "class": "crumbs" }), el("div", { "class": "treemap" })]));
    }
    s.append(el("h3", {}, ["Layers"]), table(["#", "Instruction", "Size#", "Visible#", "Hidden later#", "Reclaimable#", "Share"], img.layers.map(function (l, n) {
      var bar = el("div", { "class": "bar", style: "width: " + l.width + "%" }, [
        el("div", { "class": "visible", style: "flex: " + l.visible_bytes }), el("div", { "class": "hidden", style: "flex: " + l.hidden_bytes }),
        el("div", { "class": "reclaimable", style: "flex: " + l.reclaimable_bytes })]);
      return [[String(n + 1), n + 1], l.instruction, [l.size, l.size_bytes], [l.visible, l.visible_bytes], [l.hidden, l.hidden_bytes], [l.reclaimable, l.reclaimable_bytes], bar];
    }), function (n) { return { "data-layer": n + 1 }; }));
    if (img.advice && img.advice.length) {
      s.append(el("h3", {}, ["What to change"]), table(["Gives back#", "What", "Where", "Change"], img.advice.map(function (a) {
        return [[a.size, a.bytes], a.what, a.where, a.fix];
      })));
    }
    if (img.packages && img.packages.length) {
      s.append(el("h3", {}, ["Packages"]), el("p", { "class": "figures" }, [img.packages_line]),
        table(["Bytes#", "Kind", "Package", "Version", "Files#", "Layer#"], img.packages.map(function (p) {
          return [[p.size, p.bytes], p.kind, p.name, p.version, [String(p.files), p.files], [String(p.layer), p.layer]];
        })));
    }
    body.append(s);
  });
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
  // layersOf marks each node with the layers that wrote what it holds.
  var layersOf = function (node) {
    if (!node.c) { node.ls = {}; if (node.l) node.ls[node.l] = true; return node.ls; }
    node.ls = {};
    node.c.forEach(function (c) { Object.assign(node.ls, layersOf(c)); });
    return node.ls;
  };
  var draw = function (section, image, path, tree) {
    tree = tree || image.tree;
    var map = section.querySelector(".treemap"), crumbs = section.querySelector(".crumbs");
    var node = tree;
    path.forEach(function (name) { node = node.c.filter(function (c) { return c.n === name; })[0]; });
    map.textContent = "";
    var width = map.clientWidth, height = map.clientHeight;
    // place draws nodes into parent, in the rectangle x, y, w, h; a
    // directory with room shows what it holds inside it, to a depth.
    var place = function (parent, nodes, x, y, w, h, at, depth) {
      squarify(nodes, x, y, w, h).forEach(function (r) {
        var box = document.createElement("div");
        box.className = "box" + (r.n.c ? " dir" : "");
        box.style.left = r.x + "px"; box.style.top = r.y + "px";
        box.style.width = r.w + "px"; box.style.height = r.h + "px";
        box.style.background = r.n.change ? "var(--" + r.n.change + ")" : r.n.c ? "var(--dir)" : palette(r.n.l, image.layers.length);
        box.dataset.bytes = r.n.b; box.dataset.name = r.n.n;
        box.dataset.layers = Object.keys(r.n.ls || {}).join(" ");
        var here = at.concat([r.n.n]);
        var tip = "/" + here.join("/") + "\n" + human(r.n.b) + " (" + r.n.b + " bytes)";
        if (r.n.l) tip += "\nlayer " + r.n.l + ": " + image.layers[r.n.l - 1].instruction;
        if (r.n.p) tip += "\npackage " + r.n.p;
        if (r.n.change) tip += "\n" + r.n.change;
        box.title = tip;
        if (r.w > 40 && r.h > 14) {
          var label = document.createElement("span");
          label.textContent = r.n.n + " " + human(r.n.b);
          box.appendChild(label);
        }
        if (r.n.c) {
          box.addEventListener("click", function (e) { e.stopPropagation(); draw(section, image, here, tree); });
          if (depth < 12 && r.w > 30 && r.h > 30) place(box, r.n.c, 2, 16, r.w - 6, r.h - 20, here, depth + 1);
        }
        parent.appendChild(box);
      });
    };
    place(map, node.c || [], 0, 0, width, height, path, 0);
    crumbs.textContent = "";
    var up = function (depth, text) {
      var a = document.createElement("button");
      a.textContent = text;
      a.addEventListener("click", function () { draw(section, image, path.slice(0, depth), tree); });
      crumbs.appendChild(a);
    };
    up(0, "/");
    path.forEach(function (name, i) { up(i + 1, name + "/"); });
    section.dataset.path = "/" + path.join("/");
    highlight(section.closest("section"));
  };
  // highlight dims the boxes that hold nothing of the layer picked.
  var highlight = function (section) {
    var layer = section.dataset.layer;
    section.querySelectorAll(".files .treemap .box").forEach(function (box) {
      box.classList.toggle("dim", !!layer && box.dataset.layers.split(" ").indexOf(layer) < 0);
    });
    section.querySelectorAll("tr[data-layer]").forEach(function (row) {
      row.classList.toggle("picked", row.dataset.layer === layer);
    });
  };
  // sortable makes a table's rows sort by the column whose header is
  // clicked, by the number a cell holds (data-sort) or its text.
  var sortable = function (table) {
    table.querySelectorAll("th").forEach(function (th, col) {
      th.tabIndex = 0;
      th.addEventListener("click", function () {
        var rows = Array.prototype.slice.call(table.querySelectorAll("tr")).slice(1);
        var down = th.dataset.order !== "down";
        th.dataset.order = down ? "down" : "up";
        var key = function (row) {
          var cell = row.children[col];
          return cell.dataset.sort !== undefined ? +cell.dataset.sort : cell.textContent;
        };
        rows.sort(function (a, b) {
          var x = key(a), y = key(b), c = x < y ? -1 : x > y ? 1 : 0;
          return down ? -c : c;
        });
        rows.forEach(function (row) { row.parentNode.appendChild(row); });
      });
    });
  };
  document.querySelectorAll("table.sortable").forEach(sortable);
  // Tabs: one image shows at a time.
  var tabs = document.querySelectorAll("nav.tabs button");
  var show = function (i) {
    document.querySelectorAll("section.image").forEach(function (s, j) { s.hidden = j !== i; });
    tabs.forEach(function (b, j) { b.setAttribute("aria-selected", j === i); });
  };
  // render draws image i's treemaps: of its filesystem and of its growth.
  var render = function (i) {
    var image = data.images[i], section = document.getElementById("image-" + i);
    if (image.tree) draw(section.querySelector(".files"), image, []);
    if (image.growth) draw(section.querySelector(".growth"), image, [], image.growth);
  };
  tabs.forEach(function (b, i) { b.addEventListener("click", function () { show(i); render(i); }); });
  data.images.forEach(function (image, i) {
    var section = document.getElementById("image-" + i);
    if (image.tree) layersOf(image.tree);
    if (image.growth) layersOf(image.growth);
    section.querySelectorAll("tr[data-layer]").forEach(function (row) {
      var swatch = document.createElement("span");
      swatch.className = "swatch";
      swatch.style.background = palette(+row.dataset.layer, image.layers.length);
      row.firstElementChild.prepend(swatch, " ");
      row.addEventListener("click", function () {
        section.dataset.layer = section.dataset.layer === row.dataset.layer ? "" : row.dataset.layer;
        highlight(section);
      });
    });
  });
  if (tabs.length) show(0);
  data.images.forEach(function (image, i) {
    if (!document.getElementById("image-" + i).hidden) render(i);
  });
  document.body.dataset.ready = "true";
})();
