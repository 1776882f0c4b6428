package handlers

import "github.com/labstack/echo/v4"

// AuditPages are the audit search, its exports, ranged bundles and
// decision receipts (*AuditLog). They need Auth; each checks the
// roles it needs itself.
type AuditPages interface {
	Search(c echo.Context) error
	ExportCSV(c echo.Context) error
	ExportJSONL(c echo.Context) error
	Bundle(c echo.Context) error
	Receipt(c echo.Context) error
}

// registerAuditRoutes adds the audit pages for signed-in people.
func registerAuditRoutes(e *echo.Echo, p AuditPages) {
	if p == nil {
		return
	}
	e.GET("/audit", p.Search, requireUser)
	e.GET("/audit/export.csv", p.ExportCSV, requireUser)
	e.GET("/audit/export.jsonl", p.ExportJSONL, requireUser)
	e.GET("/audit/bundle", p.Bundle, requireUser)
	e.GET("/audit/receipt/:seq", p.Receipt, requireUser)
}
