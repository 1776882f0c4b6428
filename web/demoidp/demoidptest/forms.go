package demoidptest

import (
	"fmt"
	"net/url"
	"strings"

	"golang.org/x/net/html"
)

// Form is one parsed HTML form.
type Form struct {
	// TestID is the form's data-testid.
	TestID string
	// Method is GET or POST.
	Method string
	// Action is the absolute URL the form submits to.
	Action *url.URL
	// Fields are the named inputs with their current values (hidden,
	// text, password...), as a browser would send them.
	Fields url.Values
	// Buttons are the submit buttons.
	Buttons []Button
}

// Button is a submit button; its name and value are sent only when it is
// the one pressed.
type Button struct {
	// Name and Value are sent when the button is pressed.
	Name  string
	Value string
	// TestID is the button's data-testid.
	TestID string
}

func attr(n *html.Node, key string) (string, bool) {
	for _, a := range n.Attr {
		if a.Key == key {
			return a.Val, true
		}
	}
	return "", false
}

func parseForms(body string, base *url.URL) ([]Form, error) {
	doc, err := html.Parse(strings.NewReader(body))
	if err != nil {
		return nil, fmt.Errorf("demoidptest: parse html: %w", err)
	}
	var forms []Form
	var walkForm func(n *html.Node, f *Form)
	walkForm = func(n *html.Node, f *Form) {
		if n.Type == html.ElementNode {
			name, _ := attr(n, "name")
			value, _ := attr(n, "value")
			testID, _ := attr(n, "data-testid")
			switch n.Data {
			case "input":
				typ, _ := attr(n, "type")
				switch strings.ToLower(typ) {
				case "submit":
					f.Buttons = append(f.Buttons, Button{Name: name, Value: value, TestID: testID})
				case "checkbox", "radio":
					if _, checked := attr(n, "checked"); checked && name != "" {
						f.Fields.Add(name, value)
					}
				default:
					if name != "" {
						f.Fields.Add(name, value)
					}
				}
			case "button":
				typ, _ := attr(n, "type")
				if typ == "" || strings.EqualFold(typ, "submit") {
					f.Buttons = append(f.Buttons, Button{Name: name, Value: value, TestID: testID})
				}
			}
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			walkForm(c, f)
		}
	}
	var walk func(n *html.Node) error
	walk = func(n *html.Node) error {
		if n.Type == html.ElementNode && n.Data == "form" {
			action, _ := attr(n, "action")
			method, _ := attr(n, "method")
			testID, _ := attr(n, "data-testid")
			target, err := base.Parse(action)
			if err != nil {
				return fmt.Errorf("demoidptest: form action %q: %w", action, err)
			}
			if method == "" {
				method = "GET"
			}
			f := Form{TestID: testID, Method: strings.ToUpper(method), Action: target, Fields: url.Values{}}
			walkForm(n, &f)
			forms = append(forms, f)
			return nil
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			if err := walk(c); err != nil {
				return err
			}
		}
		return nil
	}
	if err := walk(doc); err != nil {
		return nil, err
	}
	return forms, nil
}

// textByTestID returns the whitespace-normalised text of the first element
// whose data-testid is testID.
func textByTestID(body, testID string) (string, bool) {
	doc, err := html.Parse(strings.NewReader(body))
	if err != nil {
		return "", false
	}
	var found *html.Node
	var find func(n *html.Node)
	find = func(n *html.Node) {
		if found != nil {
			return
		}
		if n.Type == html.ElementNode {
			if v, ok := attr(n, "data-testid"); ok && v == testID {
				found = n
				return
			}
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			find(c)
		}
	}
	find(doc)
	if found == nil {
		return "", false
	}
	var sb strings.Builder
	var text func(n *html.Node)
	text = func(n *html.Node) {
		if n.Type == html.TextNode {
			sb.WriteString(n.Data)
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			text(c)
		}
	}
	text(found)
	return strings.Join(strings.Fields(sb.String()), " "), true
}
