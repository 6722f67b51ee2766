//! The confusion matrix of a multi-class task: rows are gold labels, columns predicted labels
//! (scikit-learn's `confusion_matrix` layout).

/// `matrix[gold][predicted]` counts over cases with exactly one gold and one predicted label.
pub fn confusion(gold: &[Vec<usize>], predicted: &[Vec<usize>], n_labels: usize) -> Vec<Vec<usize>> {
    let mut m = vec![vec![0usize; n_labels]; n_labels];
    for (g, p) in gold.iter().zip(predicted) {
        if let ([g], [p]) = (g.as_slice(), p.as_slice()) {
            m[*g][*p] += 1;
        }
    }
    m
}
