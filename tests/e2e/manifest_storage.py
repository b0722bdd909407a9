"""ManifestStaticFilesStorage that also rewrites JS module imports to hashed names."""

from django.contrib.staticfiles.storage import ManifestStaticFilesStorage


class ModuleManifestStaticFilesStorage(ManifestStaticFilesStorage):
    support_js_module_import_aggregation = True
