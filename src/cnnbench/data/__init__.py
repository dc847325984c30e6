"""The data wing: where CIFAR-10 comes from and how it becomes arrays.

- ``fetch``     copy or download ``data.source`` into a fresh folder
- ``catalogue`` the data sets ``data.source`` can name, and where ``fetch`` looks for them
- ``readers``   the untrusted-input boundary: official tarball and image-folder archives
- ``prepare``   decode, take seeded stratified subsets, write the ``.npz`` and a summary
- ``dataset``   the prepared file's arrays, which training and evaluation load
- ``corrupt``   CIFAR-10-C-style corruptions of a test subset, for the robustness stages
"""
