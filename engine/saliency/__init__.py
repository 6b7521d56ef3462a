"""What an image classifier looks at: attributions (captum), the classifiers to inspect, rendering."""
