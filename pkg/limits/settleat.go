package limits

// SettleAt sets the prices the settlement counts cost at, when they differ
// from the reservation's (ai-proxy-advanced reserves at the dearest
// target's prices and settles at the answering target's). Call it before
// Settle.
func (d *Decision) SettleAt(p Prices) {
	if d != nil {
		d.prices = p
	}
}
