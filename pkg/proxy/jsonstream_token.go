package proxy

// The byte-at-a-time scanners of jsonStream's two multi-state tokens,
// strings and numbers, kept apart from the scan of the document's
// structure and members in jsonstream.go.

// stringByte scans one byte inside a string literal and reports whether
// it closed the string.
func (s *jsonStream) stringByte(c byte) bool {
	switch s.state {
	case jsStringEsc:
		switch c {
		case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
			s.state = jsString
		case 'u':
			s.state, s.hexes = jsStringHex, 4
		default:
			s.failed = true
		}
	case jsStringHex:
		if !isHex(c) {
			s.failed = true
		} else if s.hexes--; s.hexes == 0 {
			s.state = jsString
		}
	default:
		switch {
		case c == '"':
			return true
		case c == '\\':
			s.state = jsStringEsc
		case c < 0x20:
			s.failed = true
		}
	}
	return false
}

// numberByte scans one byte of a number and reports whether it belongs to
// it; a number that cannot end here fails.
func (s *jsonStream) numberByte(c byte) bool {
	digit := c >= '0' && c <= '9'
	switch s.state {
	case jsNumMinus:
		switch {
		case c == '0':
			s.state = jsNumZero
		case digit:
			s.state = jsNumInt
		default:
			s.failed = true
		}
		return true
	case jsNumInt, jsNumZero:
		switch {
		case digit && s.state == jsNumInt:
		case c == '.':
			s.state = jsNumDot
		case c == 'e' || c == 'E':
			s.state = jsNumE
		default:
			return false
		}
		return true
	case jsNumDot, jsNumE, jsNumESign:
		switch {
		case digit && s.state == jsNumDot:
			s.state = jsNumFrac
		case digit:
			s.state = jsNumExp
		case (c == '+' || c == '-') && s.state == jsNumE:
			s.state = jsNumESign
		default:
			s.failed = true
		}
		return true
	case jsNumFrac:
		switch {
		case digit:
		case c == 'e' || c == 'E':
			s.state = jsNumE
		default:
			return false
		}
		return true
	default: // jsNumExp
		return digit
	}
}
