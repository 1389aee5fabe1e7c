"""Financial transactions on customer accounts: charges, adjustments, fees, transfers, write-offs, and their approvals."""
