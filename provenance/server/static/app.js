// Progressive enhancement of the upload form: a dropped file goes into the form's file input,
// and the form submits itself. Without this script the form still works by picking a file.
(function () {
  const form = document.getElementById("upload");
  if (!form) return;
  const input = document.getElementById("file");
  const busy = document.getElementById("busy");
  const send = () => { busy.hidden = false; form.submit(); };
  ["dragenter", "dragover"].forEach((name) => form.addEventListener(name, (e) => { e.preventDefault(); form.classList.add("over"); }));
  ["dragleave", "drop"].forEach((name) => form.addEventListener(name, (e) => { e.preventDefault(); form.classList.remove("over"); }));
  form.addEventListener("drop", (e) => {
    if (!e.dataTransfer || !e.dataTransfer.files.length) return;
    input.files = e.dataTransfer.files;
    send();
  });
  input.addEventListener("change", () => { if (input.files.length) send(); });
  form.addEventListener("submit", () => { busy.hidden = false; });
})();
