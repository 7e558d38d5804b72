package site

import (
	"crypto/sha256"
	"encoding/base64"
	"html"
	"path"
	"strconv"
	"strings"
	"time"
)

// The HTML listing is one self-contained page: its style, icons (SVG
// symbols) and script are inline, so it makes no request beyond itself
// (its empty data: icon keeps browsers from asking for /favicon.ico).
// It reads and works without JavaScript: sorting and pages are links, and
// the filter box, which the script reveals, only hides rows of the page.

// htmlPage is what one HTML page of a listing shows.
type htmlPage struct {
	name        string    // the directory, beneath the root ("." for the root)
	host        string    // the request's host, to name the root; "" for none
	rows        []listRow // this page's entries
	q           listQuery // the order asked for
	page, pages int       // this page (from 1) of pages
	total       int       // entries on every page
	dirs        int       // of which folders
	now         time.Time // for relative dates
	upload      bool      // show the upload form (the folder takes uploads)
	downloads   bool      // offer the folder as archives (see archive.go)
}

const listingHead = `<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="color-scheme" content="light dark">
<link rel="icon" href="data:,">
<title>`

const listingStyle = `</title>
<style>
:root{color-scheme:light dark;--bg:#fff;--fg:#1d2127;--mut:#5f6773;--line:#e5e8ec;--hov:#f4f6f9;--acc:#0a5fd0;--dir:#c98a00;--img:#15803d;--av:#9333ea;--arc:#a16207;--code:#0369a1;--txt:#475569}
@media (prefers-color-scheme:dark){:root{--bg:#15171b;--fg:#e6e8eb;--mut:#9aa2ad;--line:#2a2f37;--hov:#1d2128;--acc:#74adff;--dir:#f0c14b;--img:#4ade80;--av:#c084fc;--arc:#e0b458;--code:#5ec2f2;--txt:#a9b4c2}}
*{box-sizing:border-box}[hidden]{display:none!important}
body{margin:0;background:var(--bg);color:var(--fg);font:15px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,"Noto Sans",sans-serif}
.w{max-width:64rem;margin:0 auto;padding:1.75rem 1rem 3rem}
header{display:flex;flex-wrap:wrap;gap:.75rem 1.5rem;align-items:flex-end;justify-content:space-between;margin-bottom:1rem}
h1{font-size:1.3rem;font-weight:650;margin:0;display:flex;flex-wrap:wrap;align-items:center;gap:.15rem .35rem;overflow-wrap:anywhere}
h1 a{color:inherit;border-radius:4px}h1 .home{display:inline-flex;align-items:center;gap:.4rem}h1 .sep{color:var(--mut);font-weight:400}
.meta{color:var(--mut);font-size:.85rem;margin:.3rem 0 0}
input{font:inherit;padding:.45rem .75rem;border:1px solid var(--line);border-radius:.55rem;background:var(--bg);color:var(--fg);width:16rem;max-width:100%}
a{color:var(--acc);text-decoration:none}a:hover{text-decoration:underline}
a:focus-visible,input:focus-visible{outline:2px solid var(--acc);outline-offset:2px}
table{width:100%;border-collapse:collapse;table-layout:auto}
th{font-weight:600;text-align:left;font-size:.75rem;text-transform:uppercase;letter-spacing:.05em;color:var(--mut);border-bottom:1px solid var(--line);padding:.5rem}
th a{color:inherit;display:inline-block;padding:.1rem 0}th[aria-sort] a{color:var(--fg)}
td{padding:.42rem .5rem;border-bottom:1px solid var(--line);vertical-align:middle}
tbody tr:hover{background:var(--hov)}
td.n a{display:flex;align-items:center;gap:.65rem;color:var(--fg);overflow-wrap:anywhere;border-radius:4px}
td.n a:hover span{text-decoration:underline}
.s,.m{text-align:right;white-space:nowrap;color:var(--mut);font-variant-numeric:tabular-nums}
.m .rel{margin-left:.6rem;font-size:.8rem;opacity:.85}
.lk{color:var(--mut);font-size:.8rem}
.i{width:1.3rem;height:1.3rem;flex:none;fill:none;stroke:currentColor;stroke-width:1.7;stroke-linecap:round;stroke-linejoin:round;color:var(--txt)}
h1 .i{color:var(--mut)}.dir .i{color:var(--dir)}.img .i{color:var(--img)}.av .i{color:var(--av)}.arc .i{color:var(--arc)}.code .i{color:var(--code)}
.pages{display:flex;justify-content:space-between;align-items:center;gap:1rem;margin-top:1rem;color:var(--mut);font-size:.9rem}
.empty{color:var(--mut);padding:1.5rem .5rem}
.up{margin-top:1.25rem;padding:.75rem;border:1px dashed var(--line);border-radius:.55rem;display:flex;flex-wrap:wrap;gap:.5rem;align-items:center}.up button{font:inherit;padding:.4rem .9rem;border:1px solid var(--line);border-radius:.55rem;background:var(--hov);color:var(--fg);cursor:pointer}.up progress{flex:1;min-width:8rem}
@media (max-width:40rem){.w{padding:1rem .6rem 2rem}header{align-items:stretch}header>div,input{width:100%}.m time{display:none}.m .rel{margin:0;font-size:.85rem}td,th{padding-left:.3rem;padding-right:.3rem}}
</style></head>
<body>
<svg hidden><defs>
<symbol id="i-home" viewBox="0 0 24 24"><path d="m3 11 9-8 9 8M5 9.5V20h5v-6h4v6h5V9.5"/></symbol>
<symbol id="i-up" viewBox="0 0 24 24"><path d="M9 14 4 9l5-5"/><path d="M4 9h10.5a5.5 5.5 0 0 1 0 11H11"/></symbol>
<symbol id="i-dir" viewBox="0 0 24 24"><path d="M3 7a2 2 0 0 1 2-2h4l2 2h8a2 2 0 0 1 2 2v8a2 2 0 0 1-2 2H5a2 2 0 0 1-2-2z"/></symbol>
<symbol id="i-file" viewBox="0 0 24 24"><path d="M14 3H7a2 2 0 0 0-2 2v14a2 2 0 0 0 2 2h10a2 2 0 0 0 2-2V8z"/><path d="M14 3v5h5"/></symbol>
<symbol id="i-txt" viewBox="0 0 24 24"><path d="M14 3H7a2 2 0 0 0-2 2v14a2 2 0 0 0 2 2h10a2 2 0 0 0 2-2V8z"/><path d="M14 3v5h5M9 13h6M9 17h4"/></symbol>
<symbol id="i-img" viewBox="0 0 24 24"><rect x="3" y="4" width="18" height="16" rx="2"/><circle cx="9" cy="10" r="2"/><path d="m21 16-5-5-9 9"/></symbol>
<symbol id="i-av" viewBox="0 0 24 24"><rect x="3" y="5" width="18" height="14" rx="2"/><path d="m10 9 5 3-5 3z"/></symbol>
<symbol id="i-arc" viewBox="0 0 24 24"><rect x="3" y="4" width="18" height="5" rx="1"/><path d="M5 9v9a2 2 0 0 0 2 2h10a2 2 0 0 0 2-2V9M10 13h4"/></symbol>
<symbol id="i-code" viewBox="0 0 24 24"><path d="m9 8-4 4 4 4M15 8l4 4-4 4"/></symbol>
</defs></svg>
<div class="w">
<header><div><h1>`

// listingScript reveals the filter box and hides the rows of the page
// whose names do not hold its text; "/" focuses it. The security preset's
// Content-Security-Policy allows it, and no other inline script, by its
// hash (see listingScriptHash).
const listingScript = `(function(){var f=document.getElementById("filter"),c=document.getElementById("count");if(!f)return;
var rows=[].slice.call(document.querySelectorAll("tbody tr[data-e]")),names=rows.map(function(r){return r.cells[0].textContent.toLowerCase()}),all=c.textContent;
f.hidden=false;f.addEventListener("input",function(){var q=f.value.trim().toLowerCase(),n=0;
rows.forEach(function(r,i){var h=q!==""&&names[i].indexOf(q)<0;r.hidden=h;if(!h)n++});c.textContent=q?n+" of "+rows.length+" shown":all});
document.addEventListener("keydown",function(e){if(e.key==="/"&&document.activeElement!==f){e.preventDefault();f.focus()}})})();`

// listingScriptHash is the CSP hash source of listingScript.
var listingScriptHash = func() string {
	sum := sha256.Sum256([]byte(listingScript))
	return "'sha256-" + base64.StdEncoding.EncodeToString(sum[:]) + "'"
}()

// appendHTML appends the HTML page p of l.
func (l *dirList) appendHTML(b []byte, p htmlPage) []byte {
	title := "Index of /"
	if p.name != "." {
		title += p.name + "/"
	}
	b = append(b, listingHead...)
	b = append(b, html.EscapeString(title)...)
	b = append(b, listingStyle...)
	b = appendCrumbs(b, p.name, p.host)
	b = append(b, "</h1>\n<p class=\"meta\" id=\"count\" aria-live=\"polite\">"...)
	b = appendCount(b, p.dirs, "folder")
	b = append(b, ", "...)
	b = appendCount(b, p.total-p.dirs, "file")
	if p.pages > 1 {
		b = append(b, " · page "...)
		b = strconv.AppendInt(b, int64(p.page), 10)
		b = append(b, " of "...)
		b = strconv.AppendInt(b, int64(p.pages), 10)
	}
	b = append(b, "</p>"...)
	if p.downloads {
		b = append(b, "\n<p class=\"meta\">Download this folder: <a href=\"?download=zip\" download>.zip</a> · <a href=\"?download=tar.gz\" download>.tar.gz</a></p>"...)
	}
	b = append(b, "</div>\n<input id=\"filter\" type=\"search\" placeholder=\"Filter this page\" title=\"Filter names on this page (press /)\" aria-label=\"Filter names on this page\" autocomplete=\"off\" hidden>\n</header>\n<main>\n<table>\n<thead><tr>"...)
	b = appendSortHeader(b, p.q, sortName, "Name", "n")
	b = appendSortHeader(b, p.q, sortSize, "Size", "s")
	b = appendSortHeader(b, p.q, sortMod, "Modified", "m")
	b = append(b, "</tr></thead>\n<tbody>\n"...)
	if p.name != "." {
		b = append(b, "<tr class=\"dir\"><td class=\"n\"><a href=\"../\"><svg class=\"i\" aria-hidden=\"true\"><use href=\"#i-up\"/></svg><span>Parent folder</span></a></td><td class=\"s\"></td><td class=\"m\"></td></tr>\n"...)
	}
	for i := range p.rows {
		b = l.appendRow(b, &p.rows[i], p.now)
	}
	b = append(b, "</tbody>\n</table>\n"...)
	if p.total == 0 {
		b = append(b, "<p class=\"empty\">This folder is empty.</p>\n"...)
	}
	if p.pages > 1 {
		b = append(b, "<nav class=\"pages\" aria-label=\"Pages\">"...)
		if p.page > 1 {
			b = append(b, "<a rel=\"prev\" href=\""...)
			b = append(b, html.EscapeString(p.q.query(p.page-1))...)
			b = append(b, "\">← Previous</a>"...)
		} else {
			b = append(b, "<span></span>"...)
		}
		b = append(b, "<span>Page "...)
		b = strconv.AppendInt(b, int64(p.page), 10)
		b = append(b, " of "...)
		b = strconv.AppendInt(b, int64(p.pages), 10)
		b = append(b, "</span>"...)
		if p.page < p.pages {
			b = append(b, "<a rel=\"next\" href=\""...)
			b = append(b, html.EscapeString(p.q.query(p.page+1))...)
			b = append(b, "\">Next →</a>"...)
		} else {
			b = append(b, "<span></span>"...)
		}
		b = append(b, "</nav>\n"...)
	}
	if p.upload {
		b = append(b, listingUploadForm...)
	}
	b = append(b, "</main>\n</div>\n"...)
	b = append(b, "<script>"...)
	b = append(b, listingScript...)
	b = append(b, "</script>\n"...)
	if p.upload {
		b = append(b, "<script>"...)
		b = append(b, uploadScript...)
		b = append(b, "</script>\n"...)
	}
	return append(b, "</body></html>\n"...)
}

// appendCrumbs appends links to the root (named host, or "Home") and each
// folder on the way to the directory name, relative to the listing's own
// URL.
func appendCrumbs(b []byte, name, host string) []byte {
	var segs []string
	if name != "." {
		segs = strings.Split(name, "/")
	}
	up := func(n int) string {
		if n == 0 {
			return "./"
		}
		return strings.Repeat("../", n)
	}
	if host == "" {
		host = "Home"
	}
	b = append(b, "<a href=\""+up(len(segs))+"\" class=\"home\" title=\"Root folder\"><svg class=\"i\" aria-hidden=\"true\"><use href=\"#i-home\"/></svg><span>"...)
	b = append(b, html.EscapeString(host)...)
	b = append(b, "</span></a>"...)
	for i, seg := range segs {
		b = append(b, "<span class=\"sep\" aria-hidden=\"true\">/</span>"...)
		if i == len(segs)-1 {
			b = append(b, "<span aria-current=\"page\">"...)
			b = append(b, html.EscapeString(seg)...)
			b = append(b, "</span>"...)
			continue
		}
		b = append(b, "<a href=\""+up(len(segs)-1-i)+"\">"...)
		b = append(b, html.EscapeString(seg)...)
		b = append(b, "</a>"...)
	}
	return b
}

func appendCount(b []byte, n int, what string) []byte {
	b = strconv.AppendInt(b, int64(n), 10)
	b = append(b, ' ')
	b = append(b, what...)
	if n != 1 {
		b = append(b, 's')
	}
	return b
}

// appendSortHeader appends the column header of the key: a link that
// sorts by it, ascending, or descending when it is the ascending order
// already.
func appendSortHeader(b []byte, q listQuery, key, label, class string) []byte {
	next := listQuery{sort: key, page: 1}
	b = append(b, "<th class=\""+class+"\""...)
	arrow := ""
	if q.sort == key {
		next.desc = !q.desc
		if q.desc {
			b, arrow = append(b, " aria-sort=\"descending\""...), " ↓"
		} else {
			b, arrow = append(b, " aria-sort=\"ascending\""...), " ↑"
		}
	}
	b = append(b, "><a href=\""...)
	b = append(b, html.EscapeString(next.query(1))...)
	b = append(b, "\">"+label+"<span aria-hidden=\"true\">"+arrow+"</span></a></th>"...)
	return b
}

// appendRow appends the table row of r.
func (l *dirList) appendRow(b []byte, r *listRow, now time.Time) []byte {
	n := l.name(r)
	class, icon := iconOf(n)
	href := escapeName(n)
	if r.kind == kindDir {
		class, icon, href = "dir", "i-dir", href+"/"
	}
	b = append(b, "<tr data-e class=\""+class+"\"><td class=\"n\"><a href=\""...)
	b = append(b, href...) // percent-encoded: nothing left to escape
	b = append(b, "\"><svg class=\"i\" aria-hidden=\"true\"><use href=\"#"+icon+"\"/></svg><span>"...)
	b = append(b, html.EscapeString(n)...)
	b = append(b, "</span>"...)
	if r.link {
		b = append(b, "<span class=\"lk\" title=\"symbolic link\">↪</span>"...)
	}
	b = append(b, "</a></td>"...)
	if r.kind == kindDir {
		b = append(b, "<td class=\"s\">—</td>"...)
	} else {
		b = append(b, "<td class=\"s\" title=\""...)
		b = strconv.AppendInt(b, r.size, 10)
		b = append(b, " bytes\">"...)
		b = appendHumanSize(b, r.size)
		b = append(b, "</td>"...)
	}
	if r.mod == modUnknown {
		return append(b, "<td class=\"m\">—</td></tr>\n"...)
	}
	mod := time.Unix(0, r.mod).UTC()
	b = append(b, "<td class=\"m\"><time datetime=\""...)
	b = mod.AppendFormat(b, time.RFC3339)
	b = append(b, "\" title=\""...)
	b = mod.AppendFormat(b, "2006-01-02 15:04:05 UTC")
	b = append(b, "\">"...)
	b = mod.AppendFormat(b, "2006-01-02 15:04")
	b = append(b, "</time><span class=\"rel\">"...)
	b = appendRelative(b, now.Sub(mod))
	return append(b, "</span></td></tr>\n"...)
}

// appendHumanSize appends n bytes in binary units: "512 B", "1.5 KiB",
// "23 MiB".
func appendHumanSize(b []byte, n int64) []byte {
	if n < 1024 {
		b = strconv.AppendInt(b, n, 10)
		return append(b, " B"...)
	}
	const units = "KMGTPE"
	f, u := float64(n)/1024, 0
	for f >= 1024 && u < len(units)-1 {
		f /= 1024
		u++
	}
	prec := 0
	if f < 10 {
		prec = 1
	}
	b = strconv.AppendFloat(b, f, 'f', prec, 64)
	return append(b, ' ', units[u], 'i', 'B')
}

// appendRelative appends the age d in words: "just now", "5 minutes ago",
// "yesterday", "3 years ago".
func appendRelative(b []byte, d time.Duration) []byte {
	if d < 0 {
		return append(b, "in the future"...)
	}
	ago := func(n int64, unit string) []byte {
		b = strconv.AppendInt(b, n, 10)
		b = append(b, ' ')
		b = append(b, unit...)
		if n != 1 {
			b = append(b, 's')
		}
		return append(b, " ago"...)
	}
	const day = 24 * time.Hour
	switch {
	case d < time.Minute:
		return append(b, "just now"...)
	case d < time.Hour:
		return ago(int64(d/time.Minute), "minute")
	case d < day:
		return ago(int64(d/time.Hour), "hour")
	case d < 2*day:
		return append(b, "yesterday"...)
	case d < 30*day:
		return ago(int64(d/day), "day")
	case d < 365*day:
		return ago(int64(d/(30*day)), "month")
	}
	return ago(int64(d/(365*day)), "year")
}

// iconKinds maps extensions to the class and icon of their kind of file.
var iconKinds = func() map[string]string {
	m := map[string]string{}
	for kind, exts := range map[string]string{
		"txt":  "txt md markdown rst csv tsv log pdf doc docx odt rtf epub",
		"img":  "png jpg jpeg gif webp avif svg ico bmp tif tiff heic jxl",
		"av":   "mp3 wav flac ogg oga opus m4a aac mp4 m4v mkv webm mov avi wmv",
		"arc":  "zip tar gz tgz bz2 xz zst 7z rar br iso dmg deb rpm jar",
		"code": "go js mjs ts tsx jsx py rb rs c h cc cpp hpp java kt swift sh bash zsh ps1 html htm css scss json xml yaml yml toml ini sql php lua pl wasm",
	} {
		for _, e := range strings.Fields(exts) {
			m["."+e] = kind
		}
	}
	return m
}()

// iconOf returns the row class and icon of the file named n.
func iconOf(n string) (class, icon string) {
	if kind, ok := iconKinds[strings.ToLower(path.Ext(n))]; ok {
		return kind, "i-" + kind
	}
	return "file", "i-file"
}

// listingUploadForm is the upload form of a listing in an upload folder
// (Config.Upload): a plain multipart POST to the folder, answered with a
// redirect back to it, so it works without JavaScript; uploadScript then
// sends it itself, showing its progress.
const listingUploadForm = `<form id="upload" class="up" method="post" action="./" enctype="multipart/form-data">
<label for="files">Upload files</label> <input id="files" type="file" name="file" multiple required>
<button type="submit">Upload</button> <progress max="100" value="0" hidden></progress> <span id="upstatus" aria-live="polite"></span>
</form>
`

// uploadScript sends the upload form with XMLHttpRequest, asking for JSON,
// shows the progress of the upload, and reloads the listing when done.
// The security preset allows it by its hash (uploadScriptHash).
const uploadScript = `(function(){var f=document.getElementById("upload");if(!f||!window.FormData)return;var p=f.querySelector("progress"),s=document.getElementById("upstatus");
f.addEventListener("submit",function(e){e.preventDefault();var x=new XMLHttpRequest();x.open("POST",f.action);x.setRequestHeader("Accept","application/json");
p.hidden=false;p.value=0;s.textContent="Uploading…";
x.upload.onprogress=function(ev){if(ev.lengthComputable){var v=Math.round(ev.loaded/ev.total*100);p.value=v;s.textContent=v+"%"}};
x.onload=function(){if(x.status===200){location.reload();return}p.hidden=true;s.textContent=x.status===409?"A file of that name exists already.":x.status===413?"Too large to upload.":"Upload failed ("+x.status+")."};
x.onerror=function(){p.hidden=true;s.textContent="Upload failed: connection lost."};x.send(new FormData(f))})})();`

// uploadScriptHash is the CSP hash source of uploadScript.
var uploadScriptHash = func() string {
	sum := sha256.Sum256([]byte(uploadScript))
	return "'sha256-" + base64.StdEncoding.EncodeToString(sum[:]) + "'"
}()
