// Files in and out: export (TOML setup, Python script, .npz weights) as downloads, import of a
// TOML setup or .npz weights, and CSV upload of your own points. The server does the work;
// this module moves bytes between files and messages.

function download(name, blob) {
  const a = document.createElement("a");
  a.href = URL.createObjectURL(blob);
  a.download = name;
  document.body.append(a);
  a.click();
  setTimeout(() => { URL.revokeObjectURL(a.href); a.remove(); }, 1000);
}

function b64ToBlob(b64) {
  const s = atob(b64);
  const out = new Uint8Array(s.length);
  for (let i = 0; i < s.length; i++) out[i] = s.charCodeAt(i);
  return new Blob([out], { type: "application/octet-stream" });
}

function bufferToB64(buffer) {
  const b = new Uint8Array(buffer);
  let s = "";
  for (let i = 0; i < b.length; i += 0x8000) s += String.fromCharCode(...b.subarray(i, i + 0x8000));
  return btoa(s);
}

export function wireIO(conn, { onError }) {
  const byId = id => document.getElementById(id);
  byId("export-toml").addEventListener("click", () => conn.send("export", { format: "toml" }));
  byId("export-python").addEventListener("click", () => conn.send("export", { format: "python" }));
  byId("export-npz").addEventListener("click", () => conn.send("export", { format: "npz" }));
  conn.on("export", msg => {
    const blob = msg.encoding === "base64" ? b64ToBlob(msg.content)
                                           : new Blob([msg.content], { type: "text/plain" });
    download(msg.filename, blob);
  });

  byId("import-file").addEventListener("change", async e => {
    const file = e.target.files[0];
    e.target.value = "";
    if (!file) return;
    if (file.size > 2_000_000) { onError(`${file.name} is larger than 2 MB`); return; }
    if (file.name.endsWith(".npz")) {
      conn.send("import", { format: "npz", content: bufferToB64(await file.arrayBuffer()) });
    } else if (file.name.endsWith(".toml")) {
      conn.send("import", { format: "toml", content: await file.text() });
    } else {
      onError(`import takes a .toml setup or .npz weights, not ${file.name}`);
    }
  });

  byId("csv-file").addEventListener("change", async e => {
    const file = e.target.files[0];
    e.target.value = "";
    if (!file) return;
    if (file.size > 200_000) { onError(`${file.name} is larger than 200 kB`); return; }
    conn.send("upload_csv", { text: await file.text() });
  });
}
