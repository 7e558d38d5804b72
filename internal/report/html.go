package report

import "io"

// WriteHTML writes the report page.
func WriteHTML(w io.Writer, r *Run) error { return nil }
