"""Teaching views: layers, filters, feature maps, preprocessing steps, mistakes and curves."""
