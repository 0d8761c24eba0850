package apiserver

import (
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/kordon-dev/kordon/internal/model"
)

// The search API's queries are a subset of the Lucene syntax NSX's
// /search/query takes, enough for what NSX clients send (the Terraform
// provider's data sources ask for
// `resource_type:Group AND display_name:web* AND marked_for_delete:false
// AND path:\/infra*`):
//
//   - terms field:value joined by AND (any case, or &&); OR, NOT, +, -,
//     grouping, ranges, fuzzy and regular expressions are refused, never
//     guessed at;
//   - a value is a word, or a "quoted phrase" taken literally; `*` in a
//     word matches any run of characters (prefix, suffix and inner
//     wildcards); `\` makes the next character literal (`path:\/infra*`);
//   - a value matches a field's whole value: case-insensitively for text
//     fields (display_name, description, tags, users, resource_type,
//     category), exactly for identifiers (id, path, parent_path);
//   - words that follow a value without AND continue it, joined by a
//     space: the provider does not escape the spaces of a display name, so
//     `display_name:Web Tier*` means the display names starting "Web Tier";
//   - a term without a field (only first, or right after AND) matches an
//     object whose id, display name, description, tag or tag scope it
//     matches.
//
// Queries are bounded (maxQueryLen bytes, maxQueryTerms terms) and
// matching costs at most one pass over a field per wildcard segment, so a
// query cannot make a search expensive.
const (
	maxQueryLen   = 4096
	maxQueryTerms = 32
)

// searchField is a field a query may name: how to read it from an object,
// and whether it compares without case.
type searchField struct {
	fold   bool
	values func(model.Object) []string
}

var searchFields = map[string]searchField{
	"resource_type":       {true, func(o model.Object) []string { return []string{o.GetMeta().ResourceType} }},
	"id":                  {false, func(o model.Object) []string { return []string{o.GetMeta().ID} }},
	"display_name":        {true, func(o model.Object) []string { return []string{o.GetMeta().DisplayName} }},
	"description":         {true, func(o model.Object) []string { return []string{o.GetMeta().Description} }},
	"path":                {false, func(o model.Object) []string { return []string{o.GetMeta().Path} }},
	"parent_path":         {false, func(o model.Object) []string { return []string{o.GetMeta().ParentPath} }},
	"marked_for_delete":   {true, func(o model.Object) []string { return []string{strconv.FormatBool(o.GetMeta().MarkedForDelete)} }},
	"tags.scope":          {true, func(o model.Object) []string { return tagValues(o, true) }},
	"tags.tag":            {true, func(o model.Object) []string { return tagValues(o, false) }},
	"_create_user":        {true, func(o model.Object) []string { return []string{o.GetMeta().CreateUser} }},
	"_last_modified_user": {true, func(o model.Object) []string { return []string{o.GetMeta().LastModifiedUser} }},
	"category":            {true, categoryOf},
}

// freeTextFields are what a term without a field is matched against.
var freeTextFields = []string{"id", "display_name", "description", "tags.scope", "tags.tag"}

func tagValues(o model.Object, scope bool) []string {
	var out []string
	for _, t := range o.GetMeta().Tags {
		if scope {
			out = append(out, t.Scope)
		} else {
			out = append(out, t.Tag)
		}
	}
	return out
}

func categoryOf(o model.Object) []string {
	switch p := o.(type) {
	case *model.SecurityPolicy:
		return []string{p.Category}
	case *model.GatewayPolicy:
		return []string{p.Category}
	}
	return nil
}

func searchFieldNames() string {
	names := make([]string, 0, len(searchFields))
	for n := range searchFields {
		names = append(names, n)
	}
	sort.Strings(names)
	return strings.Join(names, ", ")
}

// queryTerm is one term of a query: a field (or none, for free text) and
// the pattern its value must match.
type queryTerm struct {
	field string
	pat   pattern
}

// pattern is a value with wildcards: the literal segments between its
// stars (one segment: no star, the value must equal it), as given and
// lower-cased.
type pattern struct {
	segs, folded []string
}

func newPattern(segs []string) pattern {
	p := pattern{segs: segs}
	for _, s := range segs {
		p.folded = append(p.folded, strings.ToLower(s))
	}
	return p
}

// match reports whether s matches the pattern: the first segment is a
// prefix, the last a suffix, and the others follow in order between them.
// Taking each middle segment at its first place is never wrong, so one
// pass suffices.
func (p pattern) match(s string, fold bool) bool {
	segs := p.segs
	if fold {
		segs, s = p.folded, strings.ToLower(s)
	}
	if len(segs) == 1 {
		return s == segs[0]
	}
	first, last := segs[0], segs[len(segs)-1]
	if len(s) < len(first)+len(last) || !strings.HasPrefix(s, first) || !strings.HasSuffix(s, last) {
		return false
	}
	s = s[len(first) : len(s)-len(last)]
	for _, mid := range segs[1 : len(segs)-1] {
		i := strings.Index(s, mid)
		if i < 0 {
			return false
		}
		s = s[i+len(mid):]
	}
	return true
}

// matches reports whether an object satisfies every term.
func matches(terms []queryTerm, o model.Object) bool {
	for _, t := range terms {
		if !t.matches(o) {
			return false
		}
	}
	return true
}

func (t queryTerm) matches(o model.Object) bool {
	fields := []string{t.field}
	if t.field == "" {
		fields = freeTextFields
	}
	for _, name := range fields {
		f := searchFields[name]
		for _, v := range f.values(o) {
			// Free text compares without case, whatever the field.
			if t.pat.match(v, f.fold || t.field == "") {
				return true
			}
		}
	}
	return false
}

// qchar is a character of a query and whether it is literal (escaped or
// quoted), so that a literal * or : is never taken for syntax.
type qchar struct {
	r   rune
	lit bool
}

// qtoken is a whitespace-separated token; quoted marks a token whose value
// was a quoted phrase.
type qtoken struct {
	chars  []qchar
	quoted bool
}

func (t qtoken) plain() string {
	var b strings.Builder
	for _, c := range t.chars {
		b.WriteRune(c.r)
	}
	return b.String()
}

// isWord reports whether the token is the unescaped word w, in any case.
func (t qtoken) isWord(w string) bool {
	if t.quoted {
		return false
	}
	for _, c := range t.chars {
		if c.lit {
			return false
		}
	}
	return strings.EqualFold(t.plain(), w)
}

// lexQuery splits a query into tokens at unescaped, unquoted whitespace,
// resolving escapes and quotes. A quote may open a token or a value (right
// after field:) and must close it.
func lexQuery(q string) ([]qtoken, error) {
	var toks []qtoken
	var cur qtoken
	started := false
	inQuote := false
	closed := false // the token's quoted value has ended: only whitespace may follow
	flush := func() {
		if started {
			toks = append(toks, cur)
		}
		cur, started, closed = qtoken{}, false, false
	}
	for i := 0; i < len(q); {
		r, n := utf8.DecodeRuneInString(q[i:])
		if r == utf8.RuneError && n <= 1 {
			return nil, errors.New("the query is not valid UTF-8")
		}
		i += n
		switch {
		case r == '\\':
			if i >= len(q) {
				return nil, errors.New(`the query ends with \, which escapes nothing`)
			}
			e, m := utf8.DecodeRuneInString(q[i:])
			if e == utf8.RuneError && m <= 1 {
				return nil, errors.New("the query is not valid UTF-8")
			}
			i += m
			if closed {
				return nil, errors.New("a quoted value must end its term; put AND before the next one")
			}
			cur.chars, started = append(cur.chars, qchar{e, true}), true
		case inQuote && r == '"':
			inQuote, closed = false, true
		case inQuote:
			cur.chars = append(cur.chars, qchar{r, true})
		case r == '"':
			if closed || (started && !endsWithColon(cur.chars)) {
				return nil, errors.New(`a quote (") may only open a value, as in display_name:"web tier"; escape a quote inside a value as \"`)
			}
			inQuote, started, cur.quoted = true, true, true
		case unicode.IsSpace(r):
			flush()
		default:
			if closed {
				return nil, errors.New("a quoted value must end its term; put AND before the next one")
			}
			cur.chars, started = append(cur.chars, qchar{r, false}), true
		}
	}
	if inQuote {
		return nil, errors.New(`a quoted value is not closed (")`)
	}
	flush()
	return toks, nil
}

func endsWithColon(cs []qchar) bool {
	return len(cs) > 0 && cs[len(cs)-1] == qchar{':', false}
}

// parseQuery parses a search query into its terms (every one must match).
func parseQuery(q string) ([]queryTerm, error) {
	if strings.TrimSpace(q) == "" {
		return nil, errors.New("the query is empty; send query=field:value, for example query=resource_type:Group")
	}
	if len(q) > maxQueryLen {
		return nil, fmt.Errorf("the query is %d bytes; at most %d", len(q), maxQueryLen)
	}
	toks, err := lexQuery(q)
	if err != nil {
		return nil, err
	}
	var terms []queryTerm
	var value []qchar // the value being read
	var field string
	open := false   // a term is being read
	quoted := false // its value was quoted: nothing continues it
	joined := true  // AND was just read (or nothing yet)
	finish := func() error {
		if !open {
			return nil
		}
		open = false
		pat, err := compileValue(value)
		if err != nil {
			return fieldError(field, err)
		}
		if len(terms) == maxQueryTerms {
			return fmt.Errorf("the query has more than %d terms", maxQueryTerms)
		}
		terms = append(terms, queryTerm{field: field, pat: pat})
		return nil
	}
	for _, t := range toks {
		switch {
		case t.isWord("AND") || t.isWord("&&"):
			if joined {
				return nil, errors.New("AND must stand between two terms")
			}
			if err := finish(); err != nil {
				return nil, err
			}
			joined = true
			continue
		case t.isWord("OR") || t.isWord("||") || t.isWord("NOT"):
			return nil, fmt.Errorf("%s is not supported: join terms with AND", t.plain())
		}
		if err := operatorChar(t); err != nil {
			return nil, err
		}
		name, val, hasField := splitField(t)
		switch {
		case hasField && !joined:
			return nil, fmt.Errorf("%s: join terms with AND (OR and terms side by side are not supported)", name)
		case hasField:
			if _, ok := searchFields[name]; !ok {
				return nil, fmt.Errorf("unknown field %q; the fields are %s", name, searchFieldNames())
			}
			if len(val) == 0 && !t.quoted {
				return nil, fmt.Errorf("%s: has no value (write field:value, without a space)", name)
			}
			field, value, open = name, val, true
		case joined:
			// A term without a field: free text.
			field, value, open = "", val, true
		case t.quoted || quoted:
			return nil, errors.New("a quoted value must end its term; put AND before the next one")
		default:
			// A word after a value continues it (an unescaped space).
			value = append(append(value, qchar{' ', true}), val...)
		}
		quoted = t.quoted
		joined = false
	}
	if joined && len(terms) > 0 {
		return nil, errors.New("AND must stand between two terms")
	}
	if err := finish(); err != nil {
		return nil, err
	}
	return terms, nil
}

// operatorChar refuses Lucene operators kordon does not implement, at the
// start of a term: +, -, ! and grouping.
func operatorChar(t qtoken) error {
	if len(t.chars) == 0 || t.chars[0].lit {
		return nil
	}
	switch c := t.chars[0].r; c {
	case '+', '-', '!':
		return fmt.Errorf("the operator %c is not supported: join terms with AND (escape a leading %c as \\%c)", c, c, c)
	case '(', ')':
		return errors.New("grouping with parentheses is not supported: join terms with AND")
	}
	return nil
}

// splitField splits a token at its first unescaped colon.
func splitField(t qtoken) (field string, value []qchar, ok bool) {
	for i, c := range t.chars {
		if c == (qchar{':', false}) {
			var b strings.Builder
			for _, f := range t.chars[:i] {
				b.WriteRune(f.r)
			}
			return b.String(), t.chars[i+1:], true
		}
	}
	return "", t.chars, false
}

func fieldError(field string, err error) error {
	if field == "" {
		return err
	}
	return fmt.Errorf("%s: %w", field, err)
}

// compileValue turns a value into a pattern: unescaped stars are
// wildcards; other Lucene syntax must be escaped to be meant literally.
func compileValue(v []qchar) (pattern, error) {
	var segs []string
	var b strings.Builder
	for _, c := range v {
		switch {
		case c.lit:
			b.WriteRune(c.r)
		case c.r == '*':
			segs = append(segs, b.String())
			b.Reset()
		case c.r == '?':
			return pattern{}, errors.New(`the ? wildcard is not supported (use *, or escape it as \?)`)
		case c.r == '/':
			return pattern{}, errors.New(`an unescaped / starts a regular expression, which is not supported: escape it as \/ (path:\/infra*)`)
		case c.r == ':':
			return pattern{}, errors.New(`a value holds an unescaped ':' (escape it as \:)`)
		case strings.ContainsRune(`()[]{}^~!`, c.r):
			return pattern{}, fmt.Errorf(`%q is Lucene syntax kordon does not support (grouping, ranges, boosts, fuzzy terms); escape it as \%c to mean it literally`, c.r, c.r)
		default:
			b.WriteRune(c.r)
		}
	}
	return newPattern(append(segs, b.String())), nil
}
