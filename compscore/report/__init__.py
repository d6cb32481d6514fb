"""The plan review: one offline HTML report with inline SVG charts, and an Excel workbook beside it."""
