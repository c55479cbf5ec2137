//! The sample episode's script: one short story, told in English and in French.

/// (English, French) pairs, in speaking order.
pub(crate) const SCRIPT: [(&str, &str); 7] = [
    ("The lighthouse keeper wakes before the sun.", "Le gardien du phare se réveille avant le soleil."),
    ("He climbs one hundred steps to the lamp.", "Il monte cent marches jusqu'à la lampe."),
    ("A storm is coming from the west tonight.", "Une tempête arrive de l'ouest ce soir."),
    ("He cleans the glass and lights the flame.", "Il nettoie la vitre et allume la flamme."),
    ("Far away, a small boat sees the light.", "Au loin, un petit bateau voit la lumière."),
    ("The sailors reach the harbour safely.", "Les marins atteignent le port sans danger."),
    ("In the morning, the keeper finally sleeps.", "Au matin, le gardien dort enfin."),
];
