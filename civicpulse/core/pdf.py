"""HTML to PDF with WeasyPrint, fetching nothing. The HTML is ours, but it carries text
residents and staff wrote; WeasyPrint would otherwise follow any URL in it (an image, a
stylesheet, `file:///etc/passwd`, an internal address) from the server. Every PDF the
product makes is drawn from its own inline HTML and SVG, so every fetch is refused."""

from typing import Any


class FetchRefused(ValueError):
    """WeasyPrint was asked for a URL: never fetched."""


def refusing_url_fetcher() -> Any:
    """A WeasyPrint URL fetcher that fetches nothing: WeasyPrint logs each refusal and
    leaves the resource out of the PDF."""
    # Imported here: WeasyPrint loads Pango when imported, which only PDFs need.
    import weasyprint

    class RefusingUrlFetcher(weasyprint.urls.URLFetcher):
        def fetch(self, url: str, headers: object = None) -> Any:
            raise FetchRefused(f"PDF rendering fetches nothing: {url[:100]}")

    return RefusingUrlFetcher()


def html_to_pdf(html: str) -> bytes:
    """The PDF of `html`, with no URL fetched (see the module's docstring)."""
    from weasyprint import HTML

    return HTML(string=html, url_fetcher=refusing_url_fetcher()).write_pdf()
