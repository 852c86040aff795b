"""Cases: leads, the case lifecycle, deadlines, transfers, legal review, case file, scoring."""
