package textdoc

// Depth returns how deeply the arrays and objects of a JSON text nest
// (0 for a scalar), counting the brackets outside strings in one pass
// without recursion, so any input is safe to measure. Callers measure
// text that is valid JSON; for other text the count is of its brackets.
// Split measures its documents as it checks them (Document.Depth), and
// this only for those its light scan does not accept.
func Depth(data []byte) int {
	depth, deepest := 0, 0
	in, escaped := false, false
	for _, c := range data {
		switch {
		case in:
			switch {
			case escaped:
				escaped = false
			case c == '\\':
				escaped = true
			case c == '"':
				in = false
			}
		case c == '"':
			in = true
		case c == '[' || c == '{':
			depth++
			deepest = max(deepest, depth)
		case c == ']' || c == '}':
			depth--
		}
	}
	return deepest
}
