"""Critical CSS: keep the rules whose selectors can match the skeleton, the custom properties and keyframes they use.

Every expected string is written by hand from the small input next to it: selectors joined by ',', declarations
`name:value` joined by ';', whitespace around them dropped, `!important` appended, kept @keyframes last.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from dashapp.critical_css import Markup, critical_css, markup_of

ROOT = Path(__file__).resolve().parents[2]
FLATLY = ROOT / "assets" / "00-bootstrap-flatly.min.css"
APP_CSS = ROOT / "assets" / "app.css"


def crit(css: str, html: str) -> str:
    return critical_css([css], html)


# --- markup_of ---------------------------------------------------------------------------------------------------


def test_markup_of_collects_classes_ids_elements_and_attributes():
    markup = markup_of('<DIV id="main" class="a  b"><button type="button" data-x="1">x</button><p class=""></p></DIV>')
    assert markup == Markup(classes=frozenset({"a", "b"}), ids=frozenset({"main"}),
                            elements=frozenset({"html", "body", "div", "button", "p"}),
                            attributes=frozenset({"id", "class", "type", "data-x"}))


# --- selectors -----------------------------------------------------------------------------------------------------


def test_class_rule_kept_when_class_occurs_and_whitespace_minified():
    assert crit(".a { color: red; }\n.b { color: blue; }", '<div class="a"></div>') == ".a{color:red}"


def test_class_rule_dropped_when_class_absent():
    assert crit(".b{color:blue}", '<div class="a"></div>') == ""


def test_selector_list_keeps_only_matching_selectors():
    assert crit(".a, .zz { color: red }", '<div class="a"></div>') == ".a{color:red}"
    assert crit(".zz,.a,.b{color:red}", '<div class="a b"></div>') == ".a,.b{color:red}"


def test_descendant_and_compound_selectors_need_every_class():
    css = ".a .b{color:red}.a.c{color:blue}.a > .b{margin:0}.a .zz{padding:0}"
    assert crit(css, '<div class="a"><p class="b"></p></div>') == ".a .b{color:red}.a > .b{margin:0}"
    assert crit(css, '<div class="a c"><p class="b"></p></div>') == ".a .b{color:red}.a.c{color:blue}.a > .b{margin:0}"


def test_id_selectors():
    css = "#main{width:1px}#other{width:2px}div#main{width:3px}span#main{width:4px}"
    assert crit(css, '<div id="main"></div>') == "#main{width:1px}div#main{width:3px}"


def test_element_selectors_with_html_and_body_always_present():
    css = "html{margin:0}body{padding:0}p{color:red}table{color:blue}ul li{margin:0}.a p{color:green}"
    assert crit(css, '<div class="a"><p>x</p><li>y</li></div>') == (
        "html{margin:0}body{padding:0}p{color:red}.a p{color:green}")


def test_attribute_selectors_need_the_attribute():
    css = "[data-bs-theme=dark]{color:red}[type=button]{cursor:pointer}.btn[disabled]{opacity:.5}"
    assert crit(css, '<button class="btn" type="button">x</button>') == "[type=button]{cursor:pointer}"
    assert crit(css, '<button class="btn" type="button" disabled>x</button>') == (
        "[type=button]{cursor:pointer}.btn[disabled]{opacity:.5}")


def test_not_with_an_absent_class_does_not_drop_the_rule():
    css = ".a:not(.absent){color:red}:not(#nowhere) > .a{margin:0}.zz:not(.a){color:blue}"
    assert crit(css, '<div class="a"></div>') == ".a:not(.absent){color:red}:not(#nowhere) > .a{margin:0}"


def test_pseudo_classes_and_pseudo_elements_kept_with_their_class():
    css = '.a:hover{color:red}.a::after{content:""}.a:nth-child(2n + 1){margin:0}.b:hover{color:blue}.b::before{x:y}'
    assert crit(css, '<div class="a"></div>') == (
        '.a:hover{color:red}.a::after{content:""}.a:nth-child(2n + 1){margin:0}')


def test_root_selector_is_kept():
    assert crit(":root{color:red}", "<div></div>") == ":root{color:red}"


# --- at-rules ----------------------------------------------------------------------------------------------------


def test_media_block_keeps_only_matching_inner_rules():
    css = "@media (min-width: 768px) { .a { color: red } .zz { color: blue } }"
    assert crit(css, '<div class="a"></div>') == "@media (min-width: 768px){.a{color:red}}"


def test_media_block_vanishes_when_no_inner_rule_matches():
    css = ".a{color:red}@media print{.zz{color:blue}}@media screen{.yy{color:green}}"
    assert crit(css, '<div class="a"></div>') == ".a{color:red}"


def test_nested_conditional_groups_and_rule_order_kept():
    css = ".a{color:red}@media print{@supports (display:grid){.a{display:grid}.zz{display:none}}}.a{margin:0}"
    assert crit(css, '<div class="a"></div>') == (
        ".a{color:red}@media print{@supports (display:grid){.a{display:grid}}}.a{margin:0}")


def test_media_block_vanishes_when_its_rules_only_set_unused_custom_properties():
    assert crit("@media print{.a{--unused:1px}}", '<div class="a"></div>') == ""


def test_important_is_preserved():
    css = ".a { color: red !important; margin: 0 }"
    assert crit(css, '<div class="a"></div>') == ".a{color:red!important;margin:0}"


def test_font_face_kept_verbatim():
    css = "@font-face{font-family:X;src:url(x.woff2)}.zz{font-family:X}"
    assert crit(css, "<div></div>") == "@font-face{font-family:X;src:url(x.woff2)}"


# --- custom properties ---------------------------------------------------------------------------------------------


def test_unused_custom_properties_dropped_and_used_ones_kept():
    css = ":root{--used:red;--unused:blue}.a{color:var(--used)}"
    assert crit(css, '<div class="a"></div>') == ":root{--used:red}.a{color:var(--used)}"


def test_rule_with_only_unused_custom_properties_vanishes():
    css = ":root{--unused:blue}.a{color:red}"
    assert crit(css, '<div class="a"></div>') == ".a{color:red}"


def test_custom_property_read_only_by_a_dropped_rule_is_dropped():
    css = ":root{--z:1px}.zz{width:var(--z)}.a{color:red}"
    assert crit(css, '<div class="a"></div>') == ".a{color:red}"


def test_custom_property_names_are_case_sensitive():
    css = ":root{--Foo:1px;--foo:2px}.a{width:var(--Foo)}"
    assert crit(css, '<div class="a"></div>') == ":root{--Foo:1px}.a{width:var(--Foo)}"


def test_custom_properties_used_transitively_are_kept():
    css = ":root{--a:var(--b);--b:var(--c);--c:1px;--d:2px;--e:var(--d)}.x{width:var(--a)}"
    assert crit(css, '<div class="x"></div>') == ":root{--a:var(--b);--b:var(--c);--c:1px}.x{width:var(--a)}"


def test_custom_property_in_a_var_fallback_is_kept():
    css = ":root{--a:1px;--b:2px;--c:3px}.x{width:var(--a, var(--b))}"
    assert crit(css, '<div class="x"></div>') == ":root{--a:1px;--b:2px}.x{width:var(--a, var(--b))}"


def test_custom_property_read_inside_media_block_is_kept():
    css = ":root{--w:1px;--v:2px}@media print{.a{width:var(--w)}}"
    assert crit(css, '<div class="a"></div>') == ":root{--w:1px}@media print{.a{width:var(--w)}}"


def test_custom_property_read_only_by_inline_style_is_kept():
    css = ":root{--x:5px;--y:6px}"
    assert crit(css, '<div style="width:var(--x)"></div>') == ":root{--x:5px}"


# --- keyframes -----------------------------------------------------------------------------------------------------


def test_keyframes_kept_only_when_a_kept_rule_animates_with_them():
    css = ("@keyframes spin{to{transform:rotate(1turn)}}.a{animation:spin 1s linear infinite}"
           ".zz{animation-name:fade}@keyframes fade{to{opacity:0}}@keyframes unused{to{opacity:1}}")
    assert crit(css, '<div class="a"></div>') == (
        ".a{animation:spin 1s linear infinite}@keyframes spin{to{transform:rotate(1turn)}}")


def test_keyframes_kept_for_animation_name():
    css = ".a{animation-name:fade}@keyframes fade{to{opacity:0}}@keyframes spin{to{opacity:1}}"
    assert crit(css, '<div class="a"></div>') == ".a{animation-name:fade}@keyframes fade{to{opacity:0}}"


def test_no_keyframes_when_no_rule_animates():
    css = "@keyframes fade{to{opacity:0}}.zz{animation:fade 1s}.a{color:red}"
    assert crit(css, '<div class="a"></div>') == ".a{color:red}"


def test_keyframes_named_through_a_custom_property_are_kept():
    css = ".a{--n:spin;animation:var(--n) 1s linear}@keyframes spin{to{opacity:0}}"
    assert crit(css, '<div class="a"></div>') == (
        ".a{--n:spin;animation:var(--n) 1s linear}@keyframes spin{to{opacity:0}}")


@pytest.mark.parametrize("keyframes", ['@keyframes "spin"{to{opacity:0}}', "@KEYFRAMES spin{to{opacity:0}}"])
def test_keyframes_with_quoted_name_or_upper_case_keyword_do_not_crash(keyframes):
    assert crit(".a{animation:spin 1s}" + keyframes, '<div class="a"></div>') == ".a{animation:spin 1s}" + keyframes


# --- cascade order and inputs --------------------------------------------------------------------------------------


def test_cascade_order_across_stylesheets_is_preserved():
    html = '<div class="a b"></div>'
    assert critical_css([".b{color:red}", ".a{color:blue}"], html) == ".b{color:red}.a{color:blue}"
    assert critical_css([".a{color:blue}", ".b{color:red}"], html) == ".a{color:blue}.b{color:red}"


def test_path_stylesheet_gives_the_same_result_as_its_text(tmp_path):
    text = ":root{--u:1px;--v:2px}.a, .zz { width: var(--u) }\n@media print { .zz { color: red } }\n"
    path = tmp_path / "sheet.css"
    path.write_text(text, encoding="utf-8")
    html = '<div class="a"></div>'
    expected = ":root{--u:1px}.a{width:var(--u)}"
    assert critical_css([path], html) == expected
    assert critical_css([text], html) == expected
    assert critical_css([path, ".a{color:red}"], html) == expected + ".a{color:red}"


def test_path_stylesheet_is_reread_after_it_changes(tmp_path):
    path = tmp_path / "sheet.css"
    path.write_text(".a{color:red}", encoding="utf-8")
    assert critical_css([path], '<div class="a"></div>') == ".a{color:red}"
    path.write_text(".a{color:blue;margin:0}", encoding="utf-8")
    assert critical_css([path], '<div class="a"></div>') == ".a{color:blue;margin:0}"


# --- the real stylesheets and skeleton ------------------------------------------------------------------------------


def test_real_assets_subset_for_the_dashboard_skeleton():
    from dashapp.index_template import static_skeleton

    html = static_skeleton("dashboard", True)
    out = critical_css([FLATLY, APP_CSS], html)
    full = len(FLATLY.read_text(encoding="utf-8")) + len(APP_CSS.read_text(encoding="utf-8"))
    assert 0 < len(out) < 0.25 * full
    card = re.search(r"(?:^|\})\.card\{[^}]*\}", out)
    assert card is not None
    assert "border-radius:var(--bs-card-border-radius)" in card.group(0)
    assert "--bs-card-border-radius:var(--bs-border-radius)" in card.group(0)
    assert re.search(r"(?:^|\})\.navbar\{", out)
    assert ".app-navbar{padding-top:.4rem;padding-bottom:.4rem}" in out
    assert ".modal" not in out
    assert "data-bs-theme=dark" not in out


# --- selectors and at-rules found dropped in review, now kept ------------------------------------------------------


def test_custom_element_selector_kept_when_element_occurs():
    assert crit("my-widget{display:block}", "<my-widget></my-widget>") == "my-widget{display:block}"


def test_is_selector_kept_when_one_alternative_occurs():
    assert crit(":is(.a, .zz) p{color:red}", '<div class="a"><p></p></div>') == ":is(.a, .zz) p{color:red}"


def test_layer_order_statement_is_kept():
    css = "@layer base, theme;@layer theme{.a{color:red}}@layer base{.a{color:blue}}"
    out = crit(css, '<div class="a"></div>')
    assert "@layer base, theme" in out
    assert out.index("@layer base, theme") < out.index("@layer theme{")
