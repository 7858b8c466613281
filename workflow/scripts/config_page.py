"""Rule config_page: the configuration of this run, defaults filled in, as HTML.

Each dataset entry shows the keys common to every source and those of its own
source only (softmax_nb.data.preparation.SOURCE_KEYS, the mapping the start-up check
enforces: a key of another source must keep its default, so listing it would only
mislead); block_rows only with out_of_core. The YAML is written without anchors and
aliases (&id001 / *id001): every value in full where it applies.
"""

import html

import yaml
from script_utils import html_page, start_logging, write_text

logger = start_logging(snakemake)

from softmax_nb.data.preparation import SOURCE_KEYS  # noqa: E402


class PlainDumper(yaml.SafeDumper):
    """A safe dumper that repeats shared values instead of writing anchors and aliases."""

    def ignore_aliases(self, data):
        return True


SOURCE_SPECIFIC = set().union(*(set(keys) for keys in SOURCE_KEYS.values()))


def dataset_view(entry):
    """The keys of one dataset entry that apply to it, in the entry's order."""
    own = set(SOURCE_KEYS[entry["source"]])
    shown = {}
    for key, value in entry.items():
        if key in SOURCE_SPECIFIC and key not in own:
            continue
        if key == "block_rows" and not entry.get("out_of_core"):
            continue
        shown[key] = value
    return shown


config = dict(snakemake.params.config)
view = dict(config)
view["datasets"] = {name: dataset_view(dict(entry)) for name, entry in config["datasets"].items()}
text = yaml.dump(view, Dumper=PlainDumper, sort_keys=False, default_flow_style=False, allow_unicode=True)
left_out = {
    name: sorted(set(entry) - set(view["datasets"][name])) for name, entry in config["datasets"].items()
}
notes = "".join(
    f"<li><b>{html.escape(name)}</b> (source {html.escape(config['datasets'][name]['source'])}): "
    f"{html.escape(', '.join(keys))}</li>"
    for name, keys in left_out.items()
    if keys
)
body = (
    "<p>The configuration after validation against softmax_nb/settings/config.schema.yaml, with every "
    "default filled in (config/README.md explains each key). Each dataset lists the keys common to all "
    "sources and those of its own source; the keys of other sources (which must keep their defaults) "
    "are left out.</p>"
    f"<pre>{html.escape(text)}</pre>"
    + (f'<p class="note">Keys left out because they do not apply to the dataset\'s source:</p>'
       f'<ul class="note">{notes}</ul>' if notes else "")
)
write_text(snakemake.output.html, html_page("Configuration used", body))
logger.info("configuration:\n%s", text)
