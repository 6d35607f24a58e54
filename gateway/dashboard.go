package gateway

import (
	"io/fs"
	"mime"
	"net/http"
	"path"
)

// dashboardCSP keeps the dashboard to its own scripts and styles.
const dashboardCSP = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"

func (s *Server) dashboard(w http.ResponseWriter, r *http.Request) {
	s.serveAsset(w, "index.html")
}

func (s *Server) static(w http.ResponseWriter, r *http.Request) {
	s.serveAsset(w, r.PathValue("file"))
}

func (s *Server) serveAsset(w http.ResponseWriter, name string) {
	b, err := fs.ReadFile(dashboardFS, "dashboard/"+path.Base(name))
	if err != nil || name == "" {
		writeError(w, http.StatusNotFound, "NotFound", "no such file")
		return
	}
	ct := mime.TypeByExtension(path.Ext(name))
	if ct == "" {
		ct = "application/octet-stream"
	}
	w.Header().Set("Content-Security-Policy", dashboardCSP)
	w.Header().Set("X-Frame-Options", "DENY")
	w.Header().Set("Cache-Control", "no-cache")
	writeRaw(w, http.StatusOK, ct, b)
}
