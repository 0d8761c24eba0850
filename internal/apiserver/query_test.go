package apiserver

import (
	"strings"
	"testing"

	"github.com/kordon-dev/kordon/internal/model"
)

func testGroup(id, display, parent string, tags ...model.Tag) *model.Group {
	g := &model.Group{}
	g.ResourceType, g.ID, g.DisplayName, g.Tags = "Group", id, display, tags
	g.ParentPath = parent
	g.Path = parent + "/groups/" + id
	g.CreateUser = "token:admin"
	return g
}

// TestParseQuery: what the parser accepts and what it refuses, and why.
func TestParseQuery(t *testing.T) {
	for _, tt := range []struct {
		q     string
		terms int
		err   string
	}{
		// The Terraform provider's data source queries.
		{`resource_type:Service AND display_name:HTTPS* AND marked_for_delete:false AND path:\/infra*`, 4, ""},
		{`resource_type:Group AND display_name:web* AND marked_for_delete:false AND parent_path:*\/default AND path:\/infra*`, 5, ""},
		{`id:web\-tier AND marked_for_delete:false AND path:\/orgs\/default\/projects\/dev*`, 3, ""},
		{`resource_type:Group AND display_name:Web Tier* AND marked_for_delete:false`, 3, ""},
		{`resource_type:dummy`, 1, ""},
		{`display_name:"web tier" and id:g`, 2, ""},
		{`display_name:"" && id:g`, 2, ""},
		{`web*`, 1, ""},
		{`tags.scope:env AND tags.tag:prod`, 2, ""},
		{`display_name:a\ b`, 1, ""},
		// Refused, with the reason.
		{``, 0, "empty"},
		{`   `, 0, "empty"},
		{`resource_type:Group OR id:x`, 0, "OR is not supported"},
		{`resource_type:Group || id:x`, 0, "|| is not supported"},
		{`NOT id:x`, 0, "NOT is not supported"},
		{`resource_type:Group id:x`, 0, "join terms with AND"},
		{`AND id:x`, 0, "AND must stand between"},
		{`id:x AND`, 0, "AND must stand between"},
		{`id:x AND AND id:y`, 0, "AND must stand between"},
		{`colour:red`, 0, `unknown field "colour"`},
		{`id:`, 0, "has no value"},
		{`path:/infra*`, 0, `escape it as \/`},
		{`id:we?b`, 0, "? wildcard"},
		{`id:(a)`, 0, "Lucene syntax"},
		{`(id:a)`, 0, "parentheses"},
		{`-id:a`, 0, "operator -"},
		{`+id:a`, 0, "operator +"},
		{`id:a~`, 0, "Lucene syntax"},
		{`id:a:b`, 0, "unescaped ':'"},
		{`display_name:"web`, 0, "not closed"},
		{`display_name:"web"x`, 0, "must end its term"},
		{`display_name:"web" tier`, 0, "must end its term"},
		{`display_name:we"b"`, 0, "may only open a value"},
		{`id:x\`, 0, "escapes nothing"},
		{"id:\xff", 0, "UTF-8"},
		{strings.Repeat("x", maxQueryLen+1), 0, "at most 4096"},
		{strings.Repeat("id:x AND ", maxQueryTerms) + "id:x", 0, "more than 32 terms"},
	} {
		t.Run(tt.q, func(t *testing.T) {
			terms, err := parseQuery(tt.q)
			switch {
			case tt.err == "" && err != nil:
				t.Fatalf("refused: %v", err)
			case tt.err != "" && err == nil:
				t.Fatalf("accepted (%d terms), want an error with %q", len(terms), tt.err)
			case tt.err != "" && !strings.Contains(err.Error(), tt.err):
				t.Fatalf("error %q, want %q", err, tt.err)
			case tt.err == "" && len(terms) != tt.terms:
				t.Fatalf("%d terms, want %d", len(terms), tt.terms)
			}
		})
	}
}

// TestQueryMatches: which objects a query selects.
func TestQueryMatches(t *testing.T) {
	def := "/infra/domains/default"
	web := testGroup("web-tier", "Web Tier", def, model.Tag{Scope: "env", Tag: "Prod"})
	web2 := testGroup("web-tier-2", "Web Tier 2", def)
	db := testGroup("db", "database", "/infra/domains/lab")
	proj := testGroup("web-tier", "Web Tier", "/orgs/default/projects/dev/infra/domains/default")
	pol := &model.SecurityPolicy{}
	pol.ResourceType, pol.ID, pol.DisplayName, pol.Path, pol.ParentPath, pol.Category = "SecurityPolicy", "p", "Web Tier", def+"/security-policies/p", def, "Application"
	all := []model.Object{web, web2, db, proj, pol}
	for _, tt := range []struct {
		q    string
		want []string // ids, with the project's as dev/ID
	}{
		{`resource_type:Group AND display_name:Web Tier* AND marked_for_delete:false AND path:\/infra*`, []string{"web-tier", "web-tier-2"}},
		{`resource_type:group AND display_name:web tier`, []string{"web-tier", "dev/web-tier"}},
		{`resource_type:Group AND display_name:Web Tier* AND parent_path:*\/default AND path:\/orgs\/default\/projects\/dev*`, []string{"dev/web-tier"}},
		{`id:web\-tier AND path:\/infra*`, []string{"web-tier"}},
		{`id:WEB\-TIER`, nil}, // ids compare exactly
		{`id:*tier*`, []string{"web-tier", "web-tier-2", "dev/web-tier"}},
		{`id:w*t*2`, []string{"web-tier-2"}},
		{`id:*b`, []string{"db"}},
		{`display_name:*TIER`, []string{"web-tier", "dev/web-tier", "p"}},
		{`display_name:"Web Tier*"`, nil}, // quoted: the star is literal
		{`tags.tag:prod AND tags.scope:ENV`, []string{"web-tier"}},
		{`tags.scope:""`, nil},
		{`prod`, []string{"web-tier"}},
		{`DATABASE`, []string{"db"}},
		{`category:application`, []string{"p"}},
		{`resource_type:SecurityPolicy AND marked_for_delete:true`, nil},
		{`_create_user:token\:admin`, []string{"web-tier", "web-tier-2", "db", "dev/web-tier"}},
		{`path:\/infra\/domains\/lab\/groups\/db`, []string{"db"}},
	} {
		t.Run(tt.q, func(t *testing.T) {
			terms, err := parseQuery(tt.q)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, o := range all {
				if matches(terms, o) {
					id := o.GetMeta().ID
					if strings.HasPrefix(o.GetMeta().Path, "/orgs/") {
						id = "dev/" + id
					}
					got = append(got, id)
				}
			}
			if strings.Join(got, ",") != strings.Join(tt.want, ",") {
				t.Fatalf("got %v, want %v", got, tt.want)
			}
		})
	}
}

// FuzzParseQuery: no query makes the parser or the matcher panic, an
// accepted query respects the bounds, and a refused one says why.
func FuzzParseQuery(f *testing.F) {
	for _, seed := range []string{
		`resource_type:Service AND display_name:HTTPS* AND marked_for_delete:false AND path:\/infra*`,
		`resource_type:Group AND display_name:web* AND marked_for_delete:false AND parent_path:*\/default AND path:\/orgs\/default\/projects\/dev*`,
		`id:web\-tier AND marked_for_delete:false`,
		`display_name:"a \" b" AND tags.tag:*x*y*`,
		`display_name:Web Tier* AND id:*`,
		`prod`, `"x:y"`, `id:**`, `id:*`, `id:a\`, `id:"`, `(a OR b)`, `-x`, `id:\u00e9*`, "id:\xff",
		`AND`, `&&`, `id:x && id:y`, `:`, `:x`, `x:`, `id::`, `""`, `"" ""`,
	} {
		f.Add(seed)
	}
	objs := []model.Object{
		testGroup("web-tier", "Web Tier", "/infra/domains/default", model.Tag{Scope: "env", Tag: "prod"}),
		testGroup("É", "", "/orgs/default/projects/p/infra/domains/default", model.Tag{}),
	}
	f.Fuzz(func(t *testing.T, q string) {
		terms, err := parseQuery(q)
		if err != nil {
			if err.Error() == "" {
				t.Fatal("an error without a message")
			}
			return
		}
		if len(q) > maxQueryLen || len(terms) == 0 || len(terms) > maxQueryTerms {
			t.Fatalf("accepted %q with %d terms", q, len(terms))
		}
		for _, term := range terms {
			if _, ok := searchFields[term.field]; term.field != "" && !ok {
				t.Fatalf("unknown field %q accepted", term.field)
			}
			if len(term.pat.segs) == 0 || len(term.pat.segs) != len(term.pat.folded) {
				t.Fatalf("pattern %+v", term.pat)
			}
		}
		for _, o := range objs {
			matches(terms, o)
		}
	})
}
