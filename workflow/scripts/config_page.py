"""Rule config_page: the configuration of this run, defaults filled in, as HTML."""

import html

import yaml
from script_utils import html_page, start_logging, write_text

logger = start_logging(snakemake)

text = yaml.safe_dump(dict(snakemake.params.config), sort_keys=False, default_flow_style=False)
body = (
    "<p>The configuration after validation against softmax_nb/settings/config.schema.yaml, with every "
    "default filled in (config/README.md explains each key).</p>"
    f"<pre>{html.escape(text)}</pre>"
)
write_text(snakemake.output.html, html_page("Configuration used", body))
logger.info("configuration:\n%s", text)
