"""The ``geosr`` command line: thin wrappers that parse options, call one public function per
command and format the result."""
