"""Where the published documents point: download links, and the IRIs and identifiers that
name each dataset and each of its versions.

Links are absolute under VISITAS_PUBLIC_BASE_URL, else relative to the document that holds
them. A release's own documents link to its immutable files; latest/'s documents link to the
stable paths under latest/, which name the current release's files at every release.

What a portal keys a dataset on never names a release (a harvester would otherwise take each
release for a new dataset):

* a dataset is `<base>/latest/catalog.jsonld#<name>` (`name` from its YAML): the catalogue
  harvesters read, which always describes the dataset as it stands. Its identifier
  (`dct:identifier`, data.json `identifier`) is that IRI, and its landing page is
  `<base>/latest/index.html` (or the dataset's own page under latest/);
* a release R is a version of it, `<base>/releases/R/catalog.jsonld#<name>`, named in the
  catalogue of that release, which never changes.

Without a base URL the tree has no address yet, so these are relative to the published tree's
root: the identifier is `latest/catalog.jsonld#<name>`, and JSON-LD IRIs are written relative
to the document (`./catalog.jsonld#…` in latest/, `../../latest/catalog.jsonld#…` in a
release), which a parser given the document's address resolves to one and the same IRI. Both
are as stable as the absolute ones, and become them once the tree is served at its URL.
"""

from __future__ import annotations

from pipeline.publication import layout

#: the fragment that names the catalogue itself in catalog.jsonld
CATALOGUE = "catalogo"


class Links:
    """The links and IRIs of one document: of release `release_id`, in latest/ when
    `from_latest`, else in the release's own folder."""

    def __init__(self, base_url: str, release_id: str, *, from_latest: bool) -> None:
        self.base = base_url.rstrip("/")
        self.release_id = release_id
        self.from_latest = from_latest

    def release(self, release_id: str | None = None) -> str:
        """The folder of a release (this document's by default), ending in '/'."""
        rid = release_id or self.release_id
        if self.base:
            return f"{self.base}/{layout.release_dir(rid)}/"
        if self.from_latest:
            return f"../{layout.release_dir(rid)}/"
        return "./" if rid == self.release_id else f"../{rid}/"

    def __call__(self, path: str) -> str:
        """A file of the release this document describes, where this document names it."""
        if self.from_latest:
            return self.stable(path)
        return self.release() + path

    def stable(self, path: str) -> str:
        """`path` under latest/: the same at every release."""
        if self.base:
            return f"{self.base}/{layout.LATEST}/{path}"
        return ("./" if self.from_latest else f"../../{layout.LATEST}/") + path

    def catalogue(self) -> str:
        return f"{self.stable(layout.CATALOG)}#{CATALOGUE}"

    def dataset(self, name: str) -> str:
        """The dataset's IRI, the same in every document of every release."""
        return f"{self.stable(layout.CATALOG)}#{name}"

    def version(self, name: str, release_id: str) -> str:
        """The IRI of release `release_id` as a version of dataset `name`."""
        return f"{self.release(release_id)}{layout.CATALOG}#{name}"

    def identifier(self, name: str) -> str:
        """What portals key the dataset on: its IRI, absolute, or relative to the published
        tree's root when there is no base URL (a literal cannot be resolved against the
        document)."""
        root = f"{self.base}/" if self.base else ""
        return f"{root}{layout.LATEST}/{layout.CATALOG}#{name}"
