"""Text to pixels: QR codes, barcodes, receipts."""
